//! The flow-log record fields AWS documents (VPC User Guide, "Flow log
//! records", "Available fields"), and the [`Format`] of one object: which
//! field is in which column.
//!
//! Text objects delivered to S3 start with a header line naming the fields,
//! space separated, in the flow log's order (`version account-id ...`);
//! Parquet objects name them in their schema with underscores
//! (`account_id`). Both spellings are read. A name fanin does not know (a
//! field of a later version) is kept as an unknown column: its values are
//! skipped and the name is counted, never an error.

/// Every field of versions 2 to 5 that fanin reads, and the later ones
/// (ECS fields of version 7, `reject-reason` of version 8 and after) known
/// by name and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    // Version 2 (the default format, in this order).
    Version,
    AccountId,
    InterfaceId,
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Protocol,
    Packets,
    Bytes,
    Start,
    End,
    Action,
    LogStatus,
    // Version 3.
    VpcId,
    SubnetId,
    InstanceId,
    TcpFlags,
    Type,
    PktSrcAddr,
    PktDstAddr,
    // Version 4.
    Region,
    AzId,
    SublocationType,
    SublocationId,
    // Version 5.
    PktSrcAwsService,
    PktDstAwsService,
    FlowDirection,
    TrafficPath,
    /// A documented field of a later version that the aggregation does not
    /// read (ECS metadata, reject reason...): skipped.
    Skipped,
}

/// The documented names (hyphenated, as in a text header) of the fields
/// read, and of the later ones skipped.
const NAMES: &[(&str, Field)] = &[
    ("version", Field::Version),
    ("account-id", Field::AccountId),
    ("interface-id", Field::InterfaceId),
    ("srcaddr", Field::SrcAddr),
    ("dstaddr", Field::DstAddr),
    ("srcport", Field::SrcPort),
    ("dstport", Field::DstPort),
    ("protocol", Field::Protocol),
    ("packets", Field::Packets),
    ("bytes", Field::Bytes),
    ("start", Field::Start),
    ("end", Field::End),
    ("action", Field::Action),
    ("log-status", Field::LogStatus),
    ("vpc-id", Field::VpcId),
    ("subnet-id", Field::SubnetId),
    ("instance-id", Field::InstanceId),
    ("tcp-flags", Field::TcpFlags),
    ("type", Field::Type),
    ("pkt-srcaddr", Field::PktSrcAddr),
    ("pkt-dstaddr", Field::PktDstAddr),
    ("region", Field::Region),
    ("az-id", Field::AzId),
    ("sublocation-type", Field::SublocationType),
    ("sublocation-id", Field::SublocationId),
    ("pkt-src-aws-service", Field::PktSrcAwsService),
    ("pkt-dst-aws-service", Field::PktDstAwsService),
    ("flow-direction", Field::FlowDirection),
    ("traffic-path", Field::TrafficPath),
    // Version 7: ECS.
    ("ecs-cluster-arn", Field::Skipped),
    ("ecs-cluster-name", Field::Skipped),
    ("ecs-container-instance-arn", Field::Skipped),
    ("ecs-container-instance-id", Field::Skipped),
    ("ecs-container-id", Field::Skipped),
    ("ecs-second-container-id", Field::Skipped),
    ("ecs-service-name", Field::Skipped),
    ("ecs-task-definition-arn", Field::Skipped),
    ("ecs-task-arn", Field::Skipped),
    ("ecs-task-id", Field::Skipped),
    // Version 8 and later.
    ("reject-reason", Field::Skipped),
    ("resource-id", Field::Skipped),
    ("encryption-status", Field::Skipped),
];

impl Field {
    /// The field a header or Parquet column name stands for: hyphens or
    /// underscores, any case. `None` for a name fanin does not know.
    pub fn from_name(name: &str) -> Option<Self> {
        let canonical = name.trim().to_ascii_lowercase().replace('_', "-");
        NAMES
            .iter()
            .find(|(known, _)| *known == canonical)
            .map(|(_, field)| *field)
    }

    /// The documented (hyphenated) name; `None` for [`Field::Skipped`].
    pub fn name(self) -> Option<&'static str> {
        if self == Self::Skipped {
            return None;
        }
        NAMES
            .iter()
            .find(|(_, field)| *field == self)
            .map(|(name, _)| *name)
    }
}

/// The default format (version 2): the fields a flow log has when it is
/// created without a format.
pub const DEFAULT_FIELDS: [Field; 14] = [
    Field::Version,
    Field::AccountId,
    Field::InterfaceId,
    Field::SrcAddr,
    Field::DstAddr,
    Field::SrcPort,
    Field::DstPort,
    Field::Protocol,
    Field::Packets,
    Field::Bytes,
    Field::Start,
    Field::End,
    Field::Action,
    Field::LogStatus,
];

/// One column of a format: a field, or a name fanin does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Known(Field),
    Unknown(String),
}

/// The columns of one object, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    columns: Vec<Column>,
    /// The field of each column ([`Field::Skipped`] for an unknown name):
    /// what the parser dispatches on, one byte per column.
    fields: Vec<Field>,
    /// Whether the fields are [`DEFAULT_FIELDS`] (the parser reads those
    /// without dispatching).
    default: bool,
}

/// A header line that cannot be a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("the header line is empty")]
    Empty,
    #[error("the header names `{0}` twice")]
    Duplicate(&'static str),
    #[error("the header has no interface-id column")]
    NoInterface,
}

impl Format {
    /// The default format (version 2, 14 fields).
    pub fn default_v2() -> Self {
        Self::with_columns(DEFAULT_FIELDS.iter().copied().map(Column::Known).collect())
    }

    /// A format from column names (a text header's words, a Parquet
    /// schema's column names). Unknown names are kept as unknown columns.
    /// A format without `interface-id` cannot be aggregated and is refused;
    /// a field named twice too.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, FormatError> {
        let mut columns = Vec::new();
        for name in names {
            let column = match Field::from_name(name) {
                Some(Field::Skipped) => Column::Unknown(name.to_owned()),
                Some(field) => {
                    if columns.contains(&Column::Known(field)) {
                        return Err(FormatError::Duplicate(field.name().unwrap_or("?")));
                    }
                    Column::Known(field)
                }
                None => Column::Unknown(name.to_owned()),
            };
            columns.push(column);
        }
        if columns.is_empty() {
            return Err(FormatError::Empty);
        }
        if !columns.contains(&Column::Known(Field::InterfaceId)) {
            return Err(FormatError::NoInterface);
        }
        Ok(Self::with_columns(columns))
    }

    fn with_columns(columns: Vec<Column>) -> Self {
        let fields = columns
            .iter()
            .map(|column| match column {
                Column::Known(field) => *field,
                Column::Unknown(_) => Field::Skipped,
            })
            .collect::<Vec<_>>();
        let default = fields == DEFAULT_FIELDS;
        Self {
            columns,
            fields,
            default,
        }
    }

    /// The format a text header line names (words separated by spaces).
    pub fn from_header(line: &str) -> Result<Self, FormatError> {
        Self::from_names(line.split_ascii_whitespace())
    }

    /// Whether a first line is a header (its first word is a field name,
    /// not a value): text objects in S3 always start with one; a first line
    /// that is not one is read as a record of the default format.
    pub fn is_header(line: &str) -> bool {
        let looks_like_a_name = |word: &str| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        };
        let mut words = line.split_ascii_whitespace().peekable();
        words.peek().is_some()
            && line.split_ascii_whitespace().all(looks_like_a_name)
            && line
                .split_ascii_whitespace()
                .any(|word| Field::from_name(word).is_some())
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The field of each column, [`Field::Skipped`] for unknown names.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Whether the columns are the default format's ([`DEFAULT_FIELDS`]),
    /// in its order.
    pub fn is_default(&self) -> bool {
        self.default
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    pub fn has(&self, field: Field) -> bool {
        self.columns.contains(&Column::Known(field))
    }

    /// The names fanin does not read (counted per object, never an error).
    pub fn unknown_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().filter_map(|column| match column {
            Column::Unknown(name) => Some(name.as_str()),
            Column::Known(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_in_either_spelling_name_the_same_fields() {
        let text = Format::from_header(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
        )
        .unwrap();
        assert_eq!(text, Format::default_v2());
        let parquet = Format::from_names(
            "version account_id interface_id srcaddr dstaddr srcport dstport protocol packets bytes start end action log_status"
                .split(' '),
        )
        .unwrap();
        assert_eq!(parquet, text);
    }

    #[test]
    fn unknown_and_later_names_are_kept_as_skipped_columns() {
        let format = Format::from_header(
            "version interface-id ecs-task-id some-future-field flow-direction",
        )
        .unwrap();
        assert_eq!(format.len(), 5);
        assert_eq!(
            format.unknown_names().collect::<Vec<_>>(),
            ["ecs-task-id", "some-future-field"]
        );
        assert!(format.has(Field::FlowDirection));
    }

    #[test]
    fn a_header_without_an_interface_or_with_a_duplicate_is_refused() {
        assert_eq!(
            Format::from_header("version srcaddr dstaddr"),
            Err(FormatError::NoInterface)
        );
        assert_eq!(
            Format::from_header("interface-id srcaddr srcaddr"),
            Err(FormatError::Duplicate("srcaddr"))
        );
        assert_eq!(Format::from_header("  "), Err(FormatError::Empty));
    }

    #[test]
    fn a_header_is_told_from_a_record() {
        assert!(Format::is_header("version account-id interface-id"));
        assert!(Format::is_header("instance-id interface-id srcaddr"));
        assert!(!Format::is_header(
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"
        ));
        assert!(!Format::is_header("- eni-1235b8ca123456789 10.0.1.5"));
        assert!(!Format::is_header(""));
    }

    #[test]
    fn every_read_field_has_its_documented_name() {
        for field in DEFAULT_FIELDS {
            assert_eq!(Field::from_name(field.name().unwrap()), Some(field));
        }
        assert_eq!(Field::from_name("TCP_FLAGS"), Some(Field::TcpFlags));
        assert_eq!(Field::from_name("nope"), None);
    }
}
