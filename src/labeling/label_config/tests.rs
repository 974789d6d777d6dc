//! Label Studio's behaviour, config by config: what it derives, what it rejects and with
//! which message.

use super::*;
use serde_json::json;

fn parse(xml: &str) -> Result<LabelConfig, LabelConfigError> {
    super::parse(xml, &Limits::default())
}

fn ok(xml: &str) -> LabelConfig {
    match parse(xml) {
        Ok(config) => config,
        Err(err) => panic!("{xml} was rejected: {err}"),
    }
}

fn err(xml: &str) -> LabelConfigError {
    match parse(xml) {
        Ok(config) => panic!("{xml} was accepted: {config:?}"),
        Err(err) => err,
    }
}

#[test]
fn reference_choices_config_matches_label_studio_exactly() {
    let c = ok(
        r#"<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"#,
    );
    assert_eq!(
        serde_json::to_string(&c.parsed).unwrap(),
        r#"{"label":{"type":"Choices","to_name":["text"],"inputs":[{"type":"Text","valueType":null,"value":"text"}],"labels":["pos","neg"],"labels_attrs":{"pos":{"value":"pos"},"neg":{"value":"neg"}}}}"#
    );
    assert_eq!(
        serde_json::to_string(&c.control_weights).unwrap(),
        r#"{"label":{"overall":1.0,"type":"Choices","labels":{"pos":1.0,"neg":1.0}}}"#
    );
    assert_eq!(
        serde_json::to_string(&c.data_types).unwrap(),
        r#"{"text":"Text"}"#
    );
    assert!(c.has_control_tags);
    assert!(c.suitable_for_bulk_annotation);
    assert_eq!(c.data_keys, ["text"]);
}

#[test]
fn image_rectangle_labels_with_alias_and_background() {
    let c = ok(r##"<View>
  <Image name="img" value="$image" valueType="url" zoom="true"/>
  <RectangleLabels name="box" toName="img">
<Label value="Airplane" alias="plane" background="#FF0000"/>
<Label value="Car" background="green"/>
<Label alias="" value="Boat"/>
<Label background="blue"/>
  </RectangleLabels>
</View>"##);
    assert_eq!(
        c.parsed,
        json!({"box": {
            "type": "RectangleLabels",
            "to_name": ["img"],
            "inputs": [{"type": "Image", "valueType": "url", "value": "image"}],
            "labels": ["plane", "Car", "Boat"],
            "labels_attrs": {
                "plane": {"value": "Airplane", "alias": "plane", "background": "#FF0000"},
                "Car": {"value": "Car", "background": "green"},
                "Boat": {"alias": "", "value": "Boat"}
            }
        }})
    );
    assert_eq!(
        serde_json::to_string(&c.parsed["box"]["labels_attrs"]["plane"]).unwrap(),
        r##"{"value":"Airplane","alias":"plane","background":"#FF0000"}"##
    );
    assert_eq!(
        c.control_weights,
        json!({"box": {"overall": 1.0, "type": "RectangleLabels",
                       "labels": {"plane": 1.0, "Car": 1.0, "Boat": 1.0}}})
    );
    assert_eq!(c.data_types, json!({"image": "Image"}));
    assert!(!c.suitable_for_bulk_annotation);
}

#[test]
fn nested_views_inside_choices() {
    let c = ok(r#"<View>
  <Text name="t" value="$text"/>
  <Choices name="c" toName="t" choice="multiple">
<View style="display:flex"><Choice value="A"/><View><Choice value="B" hint="b"/></View></View>
<Choice value="C"/>
  </Choices>
</View>"#);
    assert_eq!(c.parsed["c"]["labels"], json!(["A", "B", "C"]));
    assert_eq!(
        c.parsed["c"]["labels_attrs"]["B"],
        json!({"value": "B", "hint": "b"})
    );
    assert!(c.suitable_for_bulk_annotation);
}

#[test]
fn textarea_has_empty_labels() {
    let c = ok(
        r#"<View><Audio name="audio" value="$url"/><TextArea name="transcript" toName="audio" rows="4" editable="true"/></View>"#,
    );
    assert_eq!(
        serde_json::to_string(&c.parsed).unwrap(),
        r#"{"transcript":{"type":"TextArea","to_name":["audio"],"inputs":[{"type":"Audio","valueType":null,"value":"url"}],"labels":[],"labels_attrs":{}}}"#
    );
    assert_eq!(
        serde_json::to_string(&c.control_weights).unwrap(),
        r#"{"transcript":{"overall":1.0,"type":"TextArea","labels":{}}}"#
    );
    assert!(c.suitable_for_bulk_annotation);
}

#[test]
fn rating() {
    let c = ok(
        r#"<View><Image name="image" value="$img"/><Rating name="rating" toName="image" maxRating="10" icon="star"/></View>"#,
    );
    assert_eq!(c.parsed["rating"]["type"], "Rating");
    assert_eq!(c.parsed["rating"]["labels"], json!([]));
    assert!(c.suitable_for_bulk_annotation);
    let per_item = ok(
        r#"<View><Image name="image" value="$img"/><Rating name="rating" toName="image" perItem="TRUE"/></View>"#,
    );
    assert!(!per_item.suitable_for_bulk_annotation);
}

#[test]
fn multiple_controls_over_audio_and_hypertext() {
    let c = ok(r#"<View>
  <Audio name="audio" value="$audio"/>
  <Labels name="speaker" toName="audio"><Label value="A"/><Label value="B"/></Labels>
  <HyperText name="html" value="$html" valueType="text"/>
  <HyperTextLabels name="ner" toName="html"><Label value="PER"/></HyperTextLabels>
  <Choices name="quality" toName="audio,html" perRegion="true" whenLabelValue="A"><Choice value="good"/><Choice value="bad"/></Choices>
</View>"#);
    let names: Vec<&String> = c.parsed.as_object().unwrap().keys().collect();
    assert_eq!(names, ["speaker", "ner", "quality"]);
    assert_eq!(
        c.parsed["ner"]["inputs"],
        json!([{"type": "HyperText", "valueType": "text", "value": "html"}])
    );
    assert_eq!(
        serde_json::to_string(&c.parsed["quality"]).unwrap(),
        r#"{"type":"Choices","to_name":["audio","html"],"conditionals":{"type":"label","name":"A"},"inputs":[{"type":"Audio","valueType":null,"value":"audio"},{"type":"HyperText","valueType":"text","value":"html"}],"labels":["good","bad"],"labels_attrs":{"good":{"value":"good"},"bad":{"value":"bad"}}}"#
    );
    assert_eq!(c.data_types, json!({"audio": "Audio", "html": "HyperText"}));
    assert_eq!(c.data_keys, ["audio", "html"]);
    assert!(!c.suitable_for_bulk_annotation);
}

#[test]
fn to_name_with_two_names() {
    let c = ok(
        r#"<View><Image name="a" value="$left"/><Image name="b" value="$right"/><Choices name="same" toName="a,b"><Choice value="yes"/><Choice value="no"/></Choices></View>"#,
    );
    assert_eq!(c.parsed["same"]["to_name"], json!(["a", "b"]));
    assert_eq!(
        c.parsed["same"]["inputs"],
        json!([
            {"type": "Image", "valueType": null, "value": "left"},
            {"type": "Image", "valueType": null, "value": "right"}
        ])
    );
}

#[test]
fn empty_and_whitespace_configs_are_an_empty_view() {
    for xml in ["", "   \n\t ", "\u{feff}"] {
        let c = ok(xml);
        assert_eq!(c.parsed, json!({}));
        assert_eq!(c.control_weights, json!({}));
        assert_eq!(c.data_types, json!({}));
        assert!(!c.has_control_tags);
        // Label Studio: no disallowed control tag, so suitable.
        assert!(c.suitable_for_bulk_annotation);
        assert!(c.data_keys.is_empty());
    }
}

#[test]
fn attribute_values_are_unescaped_and_normalized() {
    let c = ok(
        "<View><Text name=\"t\" value=\"$text\"/><Choices name=\"c\" toName=\"t\"><Choice value=\"&quot;a&quot; &amp; b\" hint=\"x&#10;y\tz\nw\"/></Choices></View>",
    );
    assert_eq!(
        c.parsed["c"]["labels_attrs"],
        json!({"\"a\" & b": {"value": "\"a\" & b", "hint": "x\ny z w"}})
    );
}

#[test]
fn data_types_follow_extract_data_types() {
    let c = ok(r#"<View>
  <Header value="$title"/>
  <Video name="v" value="$media"/>
  <Audio name="a" value="$media"/>
  <Text name="t" value="Say: $greeting and $other"/>
  <Choices name="c" toName="t" value="$options"/>
  <Image name="i" valueList="$pages"/>
</View>"#);
    assert_eq!(
        c.data_types,
        json!({"media": "Video", "greeting": "Text", "options": "Choices"})
    );
    assert_eq!(c.data_keys, ["title", "media", "options", "pages"]);
    assert_eq!(c.parsed["c"]["dynamic_labels"], json!(true));
    assert_eq!(
        c.parsed["c"]["inputs"],
        json!([{"type": "Text", "valueType": null, "value": "Say: $greeting and $other"}])
    );
    assert!(!c.suitable_for_bulk_annotation, "Choices with value");
    let list =
        ok(r#"<View><Image name="i" valueList="$pages"/><Rectangle name="r" toName="i"/></View>"#);
    assert_eq!(
        list.parsed["r"]["inputs"],
        json!([{"type": "Image", "valueType": null, "valueList": "pages"}])
    );
}

#[test]
fn repeater_index_flag_adds_regex() {
    let c = ok(
        r#"<View><Repeater on="$images" indexFlag="{{idx}}"><Image name="image_{{idx}}" value="$images[{{idx}}].url"/><Labels name="label_{{idx}}" toName="image_{{idx}}"><Label value="A"/></Labels></Repeater></View>"#,
    );
    assert_eq!(
        serde_json::to_string(&c.parsed["label_{{idx}}"]).unwrap(),
        r#"{"type":"Labels","to_name":["image_{{idx}}"],"regex":{"{{idx}}":".*"},"inputs":[{"type":"Image","valueType":null,"value":"images[{{idx}}].url"}],"labels":["A"],"labels_attrs":{"A":{"value":"A"}}}"#
    );
}

#[test]
fn labels_outside_controls_and_filter_are_ignored() {
    let c = ok(
        r#"<View><Text name="t" value="$t"/><Label value="stray"/><Filter name="f" toName="c"/><Taxonomy name="c" toName="t"><Choice value="A"><Choice value="A1"/></Choice></Taxonomy><Relations><Relation value="rel"/></Relations></View>"#,
    );
    assert_eq!(c.parsed.as_object().unwrap().len(), 1);
    assert_eq!(c.parsed["c"]["labels"], json!(["A", "A1"]));
    assert!(c.suitable_for_bulk_annotation);
}

#[test]
fn deep_nesting_does_not_overflow() {
    // Deeper than the default limit (Label Studio's own, 256): the walk must not recurse.
    let depth = 10_000;
    let deep = Limits {
        max_depth: 2 * depth,
        ..Limits::default()
    };
    let parse = |xml: &str| super::parse(xml, &deep);
    let xml = format!(
        "<View><Text name=\"t\" value=\"$t\"/><Choices name=\"c\" toName=\"t\">{}<Choice value=\"deep\"/>{}</Choices></View>",
        "<View>".repeat(depth),
        "</View>".repeat(depth)
    );
    let c = parse(&xml).unwrap();
    assert_eq!(c.parsed["c"]["labels"], json!(["deep"]));
    let unclosed = format!("<View>{}", "<View>".repeat(depth));
    assert!(matches!(
        parse(&unclosed),
        Err(LabelConfigError::Xml { .. })
    ));
    let other = format!(
        "<View>{}{}</View>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    parse(&other).unwrap();
}

#[test]
fn limits_refuse_with_a_message_naming_the_limit() {
    let limits = Limits {
        max_bytes: 1000,
        max_tags: 10,
        max_attributes: 3,
        max_depth: 4,
    };
    let parse = |xml: &str| super::parse(xml, &limits);
    let big = format!("<View>{}</View>", " ".repeat(1000));
    let e = parse(&big).unwrap_err();
    assert!(
        matches!(
            e,
            LabelConfigError::TooLarge {
                bytes: 1013,
                limit: 1000
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "label_config is 1013 bytes long; at most 1000 are allowed (LABELHOOK_LABEL_CONFIG_MAX_BYTES)"
    );
    // Ten tags are fine, eleven are not; empty elements count.
    parse(&format!("<View>{}</View>", "<a/>".repeat(9))).unwrap();
    let e = parse(&format!("<View>{}</View>", "<a/>".repeat(10))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "label_config has more than 10 tags (LABELHOOK_LABEL_CONFIG_MAX_TAGS)"
    );
    parse(r#"<View><a x="1" y="2" z="3"/></View>"#).unwrap();
    let e = parse("<View>\n<a x=\"1\" y=\"2\" z=\"3\" w=\"4\"/></View>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "<a> on line 2 of label_config has more than 3 attributes (LABELHOOK_LABEL_CONFIG_MAX_ATTRIBUTES)"
    );
    // Namespace declarations are attributes too.
    let e = parse(r#"<View xmlns="urn:a" xmlns:b="urn:b" xmlns:c="urn:c" xmlns:d="urn:d"/>"#)
        .unwrap_err();
    assert!(
        matches!(e, LabelConfigError::TooManyAttributes { .. }),
        "{e:?}"
    );
    parse("<View><a><b><c/></b></a></View>").unwrap();
    let e = parse("<View><a><b><c><d/></c></b></a></View>").unwrap_err();
    assert_eq!(
        e.to_string(),
        "label_config nests tags more than 4 levels deep, on line 1 (LABELHOOK_LABEL_CONFIG_MAX_DEPTH)"
    );
    // The limits come before everything else, well-formedness included.
    let e = parse(&format!("<View>{}", "<a/>".repeat(20))).unwrap_err();
    assert!(matches!(e, LabelConfigError::TooManyTags { .. }), "{e:?}");
}

#[test]
fn default_depth_limit_is_label_studios() {
    // libxml2 (lxml) refuses more than 256 levels without XML_PARSE_HUGE.
    let nested = |levels: usize| format!("{}{}", "<View>".repeat(levels), "</View>".repeat(levels));
    ok(&nested(256));
    assert!(matches!(
        err(&nested(257)),
        LabelConfigError::TooDeep { limit: 256, .. }
    ));
}

#[test]
fn attributes_per_tag_cost_one_pass() {
    // 200,000 attributes on one tag took 51 s when duplicates were checked pairwise. (At
    // 2 MB, this config is over the default size limit too: raise that one here.)
    let attributes: String = (0..200_000).map(|i| format!(" a{i}=\"\"")).collect();
    let roomy = Limits {
        max_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    };
    let e = super::parse(&format!("<View{attributes}/>"), &roomy).unwrap_err();
    assert!(
        matches!(e, LabelConfigError::TooManyAttributes { ref tag, line: 1, limit: 100 } if tag == "View"),
        "{e:?}"
    );
}

#[test]
fn index_flags_and_copied_inputs_are_bounded() {
    let repeaters: String = (0..=derive::MAX_INDEX_FLAGS)
        .map(|i| format!("<Repeater on=\"$r\" indexFlag=\"{{{{i{i}}}}}\"/>"))
        .collect();
    let e = err(&format!("<View>{repeaters}</View>"));
    assert!(
        matches!(e, LabelConfigError::TooManyIndexFlags { limit: 100 }),
        "{e:?}"
    );
    // One object tag with a long value, named by toName many times.
    let limits = Limits {
        max_bytes: 10_000,
        ..Limits::default()
    };
    let long = "x".repeat(5_000);
    let xml = format!(
        "<View><Text name=\"t\" value=\"{long}\"/><TextArea name=\"a\" toName=\"{}\"/></View>",
        vec!["t"; 100].join(",")
    );
    let e = super::parse(&xml, &limits).unwrap_err();
    assert!(
        matches!(e, LabelConfigError::DerivedTooLarge { limit: 40_000 }),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("label_config's parsed_label_config would be larger than 40000 bytes")
    );
    // Named a few times it is fine.
    let xml = format!(
        "<View><Text name=\"t\" value=\"{long}\"/><TextArea name=\"a\" toName=\"t,t\"/></View>"
    );
    let c = super::parse(&xml, &limits).unwrap();
    assert_eq!(c.parsed["a"]["inputs"].as_array().unwrap().len(), 2);
}

#[test]
fn not_well_formed_xml() {
    for xml in [
        "<View>",
        "<View><Text></View>",
        "<View></View><View></View>",
        "<View></View>junk",
        "junk",
        "<View a=\"1\" a=\"2\"></View>",
        "<View a></View>",
        "<View a=\"<\"></View>",
        "<View>&nbsp;</View>",
        "<View>a & b</View>",
        "<View a=\"&foo;\"/>",
        "<View a=\"&#1;\"/>",
        "<View>&#0;</View>",
        "<View><!-- a -- b --></View>",
        "<View>]]></View>",
        "<View><1a/></View>",
        "<View><p:a/></View>",
        "<View>\u{1}</View>",
        "<View/><?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\" encodng=\"UTF-8\"?><View/>",
        "<?xml version=\"\"?><View/>",
        "<View><?a:b x?></View>",
        "<View a=\"1\"b=\"2\"/>",
        "<View xmlns:x=\"u rn\"/>",
        "<!-- only a comment -->",
        "<",
    ] {
        match err(xml) {
            LabelConfigError::Xml { .. } => {}
            other => panic!("{xml}: expected an XML error, got {other:?}"),
        }
    }
    let e = err("<View>\n  <Text name=\"t\" value=\"$t\">\n</View>");
    let message = e.to_string();
    assert!(
        message.starts_with("label_config is not valid XML: "),
        "{message}"
    );
    assert!(
        message.contains("at position 36 (line 3, column 1)"),
        "{message}"
    );
}

#[test]
fn declaration_comments_and_namespaces_are_accepted() {
    let c = ok(
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><View xmlns:x=\"urn:x\"><Text name=\"t\" value=\"$t\" x:note=\"n\"/><Choices name=\"c\" toName=\"t\"><Choice value=\"a\" x:hint=\"h\"/><Choice value=\"b\"/></Choices></View><!-- after -->",
    );
    assert_eq!(
        c.parsed["c"]["labels_attrs"]["a"],
        json!({"value": "a", "{urn:x}hint": "h"})
    );
    let namespaced = err("<View xmlns=\"urn:v\"/>");
    assert!(
        matches!(namespaced, LabelConfigError::RootNotView { ref found } if found == "{urn:v}View")
    );
}

#[test]
fn doctype_is_rejected() {
    let xml = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><View><Header value="&lol2;"/></View>"#;
    let e = err(xml);
    assert!(
        matches!(e, LabelConfigError::Doctype { position: 21 }),
        "{e:?}"
    );
    assert!(e.to_string().contains("DOCTYPE"));
}

#[test]
fn root_must_be_view() {
    let e = err(r#"<Foo><Text name="t" value="$t"/></Foo>"#);
    assert!(matches!(e, LabelConfigError::RootNotView { .. }));
    assert_eq!(e.to_string(), "the root tag must be <View>, found <Foo>");
}

#[test]
fn unknown_to_name() {
    let e = err(
        r#"<View><Text name="text" value="$t"/><Image name="image" value="$i"/><Choices name="label" toName="x"><Choice value="a"/></Choices></View>"#,
    );
    assert_eq!(
        e.to_string(),
        r#"toName="x" of <Choices name="label"> names no tag in the config (known names: image, label, text)"#
    );
    let second = err(
        r#"<View><Text name="a" value="$t"/><Labels name="l" toName="a,b"><Label value="x"/></Labels></View>"#,
    );
    assert!(
        matches!(second, LabelConfigError::UnknownToName { ref to_name, .. } if to_name == "b")
    );
}

#[test]
fn duplicate_names() {
    let e = err(r#"<View><Text name="x" value="$a"/><Image name="x" value="$b"/></View>"#);
    assert!(matches!(e, LabelConfigError::DuplicateName { ref name } if name == "x"));
    assert_eq!(
        e.to_string(),
        r#"Label config contains non-unique names: name="x" is used by more than one tag"#
    );
    let control = err(r#"<View><Text name="t" value="$a"/><TextArea name="t" toName="t"/></View>"#);
    assert!(matches!(control, LabelConfigError::DuplicateName { .. }));
}

#[test]
fn names_are_found_like_label_studio_does() {
    // Label Studio applies the regexes name="..." and toName="..." to the re-serialized
    // XML, so text (CSS attribute selectors, say) and any *name attribute count.
    let e = err(
        r#"<View><Style>.lsf [name="t"] { color: red }</Style><Text name="t" value="$t"/></View>"#,
    );
    assert!(
        matches!(e, LabelConfigError::DuplicateName { ref name } if name == "t"),
        "{e:?}"
    );
    let e = err(r#"<View><Text name="t" value="$t"/><Header>use toName="nope"</Header></View>"#);
    assert_eq!(
        e.to_string(),
        r#"toName="nope" of the text following <Header> names no tag in the config (known names: t)"#
    );
    let e = err(r#"<View><Text name="t" value="$t" filename="t"/></View>"#);
    assert!(matches!(e, LabelConfigError::DuplicateName { .. }));
    // Escaped quotes do not end a value: ElementTree writes them as &quot;.
    ok(r#"<View><Text name="t" value="$t" hint="name=&quot;t&quot;"/></View>"#);
}

#[test]
fn choices_or_labels_without_labels() {
    let e =
        err(r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"></Choices></View>"#);
    assert!(matches!(e, LabelConfigError::NoLabels { ref child, .. } if child == "Choice"));
    assert!(
        e.to_string()
            .starts_with(r#"<Choices name="c"> has no <Choice> tags"#),
        "{e}"
    );
    let labels = err(
        r#"<View><Text name="t" value="$t"/><View><Labels name="l" toName="t"/></View></View>"#,
    );
    assert!(matches!(labels, LabelConfigError::NoLabels { ref child, .. } if child == "Label"));
    // Dynamic labels or a nested View satisfy Label Studio's schema.
    ok(r#"<View><Text name="t" value="$t"/><Labels name="l" toName="t" value="$labels"/></View>"#);
    ok(r#"<View><Text name="t" value="$t"/><Labels name="l" toName="t"><View/></Labels></View>"#);
    // Label Studio's schema does not cover the other *Labels tags.
    ok(r#"<View><Image name="i" value="$i"/><RectangleLabels name="r" toName="i"/></View>"#);
}

#[test]
fn other_schema_violations() {
    for xml in [
        r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice alias="a"/><Choice value="b"/></Choices></View>"#,
        r#"<View><Text name="t"/></View>"#,
        r#"<View><Image value="$i"/></View>"#,
        r#"<View><Text name="t" value="$t" valueList="$u"/></View>"#,
        r#"<View><Text name="t" value="$t"/><TextArea name="ta"/></View>"#,
        r#"<View><Text name="1" value="$t"/><Choices name="c" toName="1"><Choice value="a"/><Choice value="b"/></Choices></View>"#,
        r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a">1</Choice><Choice value="b"/></Choices></View>"#,
        r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices><Choices name="d" toName="t" value="$o"/></View>"#,
        r#"<View><Text name="t" value="$t"/><Labels name="l" toName="t"><View><Choices name="c" toName="t"><Choice value="a"/></Choices></View></Labels></View>"#,
    ] {
        match err(xml) {
            LabelConfigError::Schema { .. } => {}
            other => panic!("{xml}: expected a schema error, got {other:?}"),
        }
    }
    let e = err(r#"<View><View><Text name="t"/></View></View>"#);
    assert_eq!(
        e.to_string(),
        r#"Validation failed on View/View/Text: <Text name="t"> needs a value (or valueList) attribute"#
    );
    // A single Choice is fine in the common layouts.
    ok(
        r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices><Choices name="d" toName="t"><Choice value="b"/></Choices></View>"#,
    );
    // Tags outside the schema's reach are not checked.
    ok(
        r#"<View><Collapse><Panel value="p"><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="a"/></Choices></Panel></Collapse></View>"#,
    );
}

#[test]
fn error_precedence() {
    // XML errors first, then the root, then the schema, then names.
    assert!(matches!(
        err("<Foo><a></b></Foo>"),
        LabelConfigError::Xml { .. }
    ));
    assert!(matches!(
        err(r#"<Foo><Choices name="c" toName="c"/></Foo>"#),
        LabelConfigError::RootNotView { .. }
    ));
    assert!(matches!(
        err(r#"<View><Choices name="c" toName="zz"/><Text name="c" value="$t"/></View>"#),
        LabelConfigError::NoLabels { .. }
    ));
    assert!(matches!(
        err(
            r#"<View><Text name="c" value="$t"/><Text name="c" value="$u"/><TextArea name="x" toName="nope"/></View>"#
        ),
        LabelConfigError::DuplicateName { .. }
    ));
}

#[test]
fn bulk_annotation_rules() {
    let text = r#"<Text name="t" value="$t"/>"#;
    let suits =
        |controls: &str| ok(&format!("<View>{text}{controls}</View>")).suitable_for_bulk_annotation;
    assert!(suits(
        r#"<Choices name="c" toName="t"><Choice value="a"/><Choice value="b"/></Choices><TextArea name="ta" toName="t"/><Number name="n" toName="t"/>"#
    ));
    assert!(!suits(
        r#"<Choices name="c" toName="t" perRegion="true"><Choice value="a"/><Choice value="b"/></Choices>"#
    ));
    assert!(!suits(r#"<TextArea name="ta" toName="t" perItem="true"/>"#));
    assert!(!suits(
        r#"<Labels name="l" toName="t"><Label value="a"/></Labels>"#
    ));
    assert!(!suits(
        r#"<Taxonomy name="x" toName="t" apiUrl="http://x"/>"#
    ));
    assert!(!suits(
        r#"<Taxonomy name="x" toName="t" labeling="true"><Choice value="a"/></Taxonomy>"#
    ));
    assert!(suits(
        r#"<Relations name="r" toName="t"/><Pairwise name="p" toName="t"/>"#
    ));
    assert!(suits(""));
}

#[test]
fn conditionals_need_per_region() {
    let c = ok(
        r#"<View><Text name="t" value="$t"/><TextArea name="a" toName="t" visibleWhen="region-selected" whenTagName="l"/><TextArea name="b" toName="t" perRegion="true" whenTagName="l"/><Labels name="l" toName="t"><Label value="x"/></Labels></View>"#,
    );
    assert!(c.parsed["a"].get("conditionals").is_none());
    assert_eq!(
        c.parsed["b"]["conditionals"],
        json!({"type": "tag", "name": "l"})
    );
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "<<<<>>>>",
        "<View",
        "<View><",
        "</View>",
        "<View></Vie",
        "<![CDATA[x]]>",
        "<View><![CDATA[",
        "<?xml",
        "<!DOCTYPE",
        "<View x='",
        "<View>&",
        "<View>&#xFFFFFFFF;</View>",
        "<View>&#;</View>",
        "\u{0}",
        "<View>\u{FFFF}</View>",
        "<:a/>",
        "<a:/>",
        "<View xmlns:p=\"\"><p:a/></View>",
        "{\"json\": true}",
        "<View><Choices name=\"c\" toName=\"c\"><Choice/></Choices></View>",
    ];
    for xml in samples {
        let _ = parse(xml);
    }
    // Pseudo-random byte soup built from XML-ish fragments.
    let pieces = [
        "<",
        ">",
        "/",
        "View",
        "Text",
        "Choices",
        "Choice",
        "Label",
        " name=\"a\"",
        " toName=\"a\"",
        " value=\"$v\"",
        "=",
        "\"",
        "'",
        "&amp;",
        "&",
        ";",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<?",
        "?>",
        "é",
        "\u{1F600}",
        " ",
        "\n",
        "x",
        ":",
        "#",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..3000 {
        let mut xml = String::new();
        let len = (state % 40) as usize;
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            xml.push_str(pieces[(state % pieces.len() as u64) as usize]);
        }
        let _ = parse(&xml);
        let _ = parse(&format!("<View>{xml}</View>"));
    }
}
