//! The export formats: Label Studio's catalogue, which of them fit a project's labeling
//! config (its converter's rules), and which labelhook writes.

use serde::Serialize;
use utoipa::ToSchema;

use super::schema::Schema;

/// Every format Label Studio 1.23.2 lists, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Json,
    JsonMin,
    Csv,
    Tsv,
    Conll2003,
    Coco,
    CocoWithImages,
    Voc,
    Yolo,
    YoloWithImages,
    YoloObb,
    YoloObbWithImages,
    BrushToNumpy,
    BrushToPng,
    AsrManifest,
    BrushToCoco,
    Doclang,
}

pub const ALL: [Format; 17] = [
    Format::Json,
    Format::JsonMin,
    Format::Csv,
    Format::Tsv,
    Format::Conll2003,
    Format::Coco,
    Format::CocoWithImages,
    Format::Voc,
    Format::Yolo,
    Format::YoloWithImages,
    Format::YoloObb,
    Format::YoloObbWithImages,
    Format::BrushToNumpy,
    Format::BrushToPng,
    Format::AsrManifest,
    Format::BrushToCoco,
    Format::Doclang,
];

/// What Label Studio says about a format: `(name, title, description, link, tags)`.
struct About {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    link: &'static str,
    tags: &'static [&'static str],
}

const GUIDE: &str = "https://labelstud.io/guide/export.html";
const DETECTION: &[&str] = &["image segmentation", "object detection", "keypoints"];

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn name(self) -> &'static str {
        self.about().name
    }

    /// Whether labelhook writes this format (the others are listed, disabled).
    pub fn implemented(self) -> bool {
        matches!(
            self,
            Format::Json
                | Format::JsonMin
                | Format::Csv
                | Format::Tsv
                | Format::Conll2003
                | Format::Coco
                | Format::Yolo
        )
    }

    /// The extension of the file Label Studio's converter writes (TSV too is written to
    /// `result.csv`), or `zip` when it writes several files.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json | Format::JsonMin => "json",
            Format::Csv | Format::Tsv => "csv",
            Format::Conll2003 => "conll",
            _ => "zip",
        }
    }

    fn about(self) -> About {
        let about = |name, title, description, link, tags| About {
            name,
            title,
            description,
            link,
            tags,
        };
        match self {
            Format::Json => about(
                "JSON",
                "JSON",
                "List of items in raw JSON format stored in one JSON file. Use to export both the data and the annotations for a dataset. It's Label Studio Common Format",
                "#JSON",
                &[],
            ),
            Format::JsonMin => about(
                "JSON_MIN",
                "JSON-MIN",
                "List of items where only \"from_name\", \"to_name\" values from the raw JSON format are exported. Use to export only the annotations for a dataset.",
                "#JSON-MIN",
                &[],
            ),
            Format::Csv => about(
                "CSV",
                "CSV",
                "Results are stored as comma-separated values with the column names specified by the values of the \"from_name\" and \"to_name\" fields.",
                "#CSV",
                &[],
            ),
            Format::Tsv => about(
                "TSV",
                "TSV",
                "Results are stored in tab-separated tabular file with column names specified by \"from_name\" \"to_name\" values",
                "#TSV",
                &[],
            ),
            Format::Conll2003 => about(
                "CONLL2003",
                "CONLL2003",
                "Popular format used for the CoNLL-2003 named entity recognition challenge.",
                "#CONLL2003",
                &[
                    "sequence labeling",
                    "text tagging",
                    "named entity recognition",
                ],
            ),
            Format::Coco => about(
                "COCO",
                "COCO",
                "Popular machine learning format used by the COCO dataset for object detection and image segmentation tasks with polygons and rectangles.",
                "#COCO",
                DETECTION,
            ),
            Format::CocoWithImages => about(
                "COCO_WITH_IMAGES",
                "COCO with Images",
                "COCO format with images downloaded.",
                "#COCO",
                DETECTION,
            ),
            Format::Voc => about(
                "VOC",
                "Pascal VOC XML",
                "Popular XML format used for object detection and polygon image segmentation tasks.",
                "#Pascal-VOC-XML",
                &["image segmentation", "object detection"],
            ),
            Format::Yolo => about(
                "YOLO",
                "YOLO",
                "Popular TXT format is created for each image file. Each txt file contains annotations for the corresponding image file, that is object class, object coordinates, height & width.",
                "#YOLO",
                DETECTION,
            ),
            Format::YoloWithImages => about(
                "YOLO_WITH_IMAGES",
                "YOLO with Images",
                "YOLO format with images downloaded.",
                "#YOLO",
                DETECTION,
            ),
            Format::YoloObb => about(
                "YOLO_OBB",
                "YOLOv8 OBB",
                "Popular TXT format is created for each image file. Each txt file contains annotations for the corresponding image file. The YOLO OBB format designates bounding boxes by their four corner points with coordinates normalized between 0 and 1, so it is possible to export rotated objects.",
                "#YOLO",
                &["image segmentation", "object detection"],
            ),
            Format::YoloObbWithImages => about(
                "YOLO_OBB_WITH_IMAGES",
                "YOLOv8 OBB with Images",
                "YOLOv8 OBB format with images downloaded.",
                "#YOLO",
                &["image segmentation", "object detection"],
            ),
            Format::BrushToNumpy => about(
                "BRUSH_TO_NUMPY",
                "Brush labels to NumPy",
                "Export your brush labels as NumPy 2d arrays. Each label outputs as one image.",
                "#Brush-labels-to-NumPy-amp-PNG",
                &["image segmentation"],
            ),
            Format::BrushToPng => about(
                "BRUSH_TO_PNG",
                "Brush labels to PNG",
                "Export your brush labels as PNG images. Each label outputs as one image.",
                "#Brush-labels-to-NumPy-amp-PNG",
                &["image segmentation"],
            ),
            Format::AsrManifest => about(
                "ASR_MANIFEST",
                "ASR Manifest",
                "Export audio transcription labels for automatic speech recognition as the JSON manifest format expected by NVIDIA NeMo models.",
                "#ASR-MANIFEST",
                &["speech recognition"],
            ),
            Format::BrushToCoco => about(
                "BRUSH_TO_COCO",
                "Brush labels to COCO",
                "Export your brush labels as COCO format for segmentation tasks. Converts RLE encoded masks to COCO polygons.",
                "#COCO",
                &["image segmentation", "brush annotations"],
            ),
            Format::Doclang => about(
                "DOCLANG",
                "DocLang (.dclx)",
                "Package annotations from the Doclang Interface as DocLang OPC archives (document.xml + page image) for downstream Docling model training.",
                "https://github.com/doclang-project/doclang/blob/main/spec.md#doclang-archive-format",
                &["document", "doclang"],
            ),
        }
    }

    /// Why this format cannot be written for a project with `schema`, as the format list
    /// says it (a sentence), or `None` when it can.
    pub fn unavailable(self, schema: &Schema) -> Option<String> {
        if let Some(reason) = schema.unsupported(self) {
            let mut chars = reason.chars();
            let first = chars.next().map(|c| c.to_uppercase().to_string());
            return Some(format!("{}{}.", first.unwrap_or_default(), chars.as_str()));
        }
        self.not_written()
    }

    /// Why a request for this format is refused (a 400's message), or `None`.
    pub fn refusal(self, schema: &Schema) -> Option<String> {
        if let Some(reason) = schema.unsupported(self) {
            return Some(format!(
                "{} does not fit this project's labeling config: it {reason}.",
                self.name()
            ));
        }
        self.not_written()
    }

    fn not_written(self) -> Option<String> {
        if self.implemented() {
            return None;
        }
        Some(match self {
            Format::CocoWithImages | Format::YoloWithImages | Format::YoloObbWithImages => format!(
                "labelhook does not download task media into exports; {} without images has the same labels.",
                self.name().trim_end_matches("_WITH_IMAGES")
            ),
            _ => format!("labelhook does not write {} yet.", self.name()),
        })
    }

    /// The format as `GET /api/projects/{id}/export/formats` lists it.
    pub fn describe(self, schema: &Schema) -> FormatView {
        let about = self.about();
        let link = if about.link.starts_with('#') {
            format!("{GUIDE}{}", about.link)
        } else {
            about.link.to_string()
        };
        let reason = self.unavailable(schema);
        FormatView {
            title: about.title,
            description: about.description,
            link,
            tags: about.tags,
            name: about.name,
            disabled: reason.as_ref().map(|_| true),
            disabled_reason: reason,
        }
    }
}

/// One export format: Label Studio's keys (`tags` when it has some, `disabled` only when
/// true), plus labelhook's `disabled_reason`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ExportFormat)]
pub struct FormatView {
    title: &'static str,
    description: &'static str,
    link: String,
    /// What the format is for.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schema(required = false)]
    tags: &'static [&'static str],
    /// The value of `exportType`.
    #[schema(example = "JSON")]
    name: &'static str,
    /// Present (true) when the format cannot be written for this project.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    disabled: Option<bool>,
    /// labelhook's addition: why the format is disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    disabled_reason: Option<String>,
}

/// The formats for a project, as Label Studio orders them: available ones first.
pub fn describe_all(schema: &Schema) -> Vec<FormatView> {
    let mut items: Vec<FormatView> = ALL.iter().map(|f| f.describe(schema)).collect();
    // A stable sort, as Python's `sorted(key=disabled)`.
    items.sort_by_key(|item| item.disabled.is_some());
    items
}

/// The names of every format, for error messages.
pub fn names() -> String {
    ALL.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
}
