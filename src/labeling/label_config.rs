// TEMPORARY STUB (replaced by the real parser)
#[derive(Debug, Clone)]
pub struct LabelConfig {
    pub parsed: serde_json::Value,
    pub control_weights: serde_json::Value,
    pub data_types: serde_json::Value,
    pub has_control_tags: bool,
    pub suitable_for_bulk_annotation: bool,
    pub data_keys: Vec<String>,
}
#[derive(Debug, thiserror::Error)]
pub enum LabelConfigError { #[error("bad")] Bad }
pub fn parse(_xml: &str) -> Result<LabelConfig, LabelConfigError> {
    Ok(LabelConfig { parsed: serde_json::json!({}), control_weights: serde_json::json!({}), data_types: serde_json::json!({}), has_control_tags: false, suitable_for_bulk_annotation: false, data_keys: vec![] })
}
