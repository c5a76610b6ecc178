//! CloudTrail log objects (`{"Records": [...]}`) read record by record.
//!
//! The object is never one `serde_json::Value`, nor, read from a stream,
//! held whole: [`read_records`] reads the top level's structure itself and
//! hands each element of `Records` to `serde_json` as a slice of a bounded
//! window (`super::window`), so a record's strings are borrowed and a
//! stream is read as fast as bytes in memory. Each record is a [`Record`]
//! that holds only the fields fanin reads, the rest skipped. Every field is
//! read leniently, so a record whose fields have unexpected types or are
//! missing is a [`Malformed`] record at its index, and the records after it
//! are still read; only broken JSON (or a read error) ends the object.
//!
//! [`Record::actor`] says who made the call (`super::principal`), as the
//! contract of issue 12 resolves it: sessions fold into their role, AWS
//! services acting for a principal and the other account's copy of a shared
//! event are not the principal's use.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::principal::PrincipalKind;
use super::window::{
    ReaderSource, SliceSource, Source, TakeError, Taken, WindowError, next_token, read_one,
    take_value,
};

/// A string field read from any JSON value: a string is kept (borrowed when
/// the source allows), anything else is [`Text::Other`] and the value is
/// skipped, so an unexpected type never ends the array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Text<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    /// Present but not a string (or `null`).
    Other,
}

impl<'a> Text<'a> {
    /// The string, when there is one.
    pub fn get(&self) -> Option<&str> {
        match self {
            Self::Str(text) => Some(text),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Text::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text::Other)
            }
        }
        deserializer.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

/// A JSON object read as `T`, or [`Object::NotAnObject`] (the value
/// skipped) for any other JSON value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Object<T> {
    Object(T),
    #[default]
    NotAnObject,
}

impl<T> Object<T> {
    pub fn get(&self) -> Option<&T> {
        match self {
            Self::Object(inner) => Some(inner),
            Self::NotAnObject => None,
        }
    }
}

/// A struct read from a JSON object's entries (see [`from_map`]).
pub trait FromMap<'de>: Sized {
    fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

impl<'de, T: FromMap<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: FromMap<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::from_map(map).map(Object::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Object::NotAnObject)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Object::NotAnObject)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Object::NotAnObject)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Object::NotAnObject)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Object::NotAnObject)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Object::NotAnObject)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Object::NotAnObject)
            }
        }
        deserializer.deserialize_any(ObjectVisitor(std::marker::PhantomData))
    }
}

/// A key of a JSON object as bytes: keys are only compared, so neither
/// checked as UTF-8 nor copied (unless escaped). The derived `Deserialize`
/// read every key of a record as a checked `&str`, a third of the parse.
struct KeyBytes;

impl<'de> DeserializeSeed<'de> for KeyBytes {
    type Value = Cow<'de, [u8]>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for KeyBytes {
    type Value = Cow<'de, [u8]>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_vec()))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v.as_bytes()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.as_bytes().to_vec()))
    }
}

/// [`FromMap`] for a struct of lenient fields: each named key's value read
/// into its field (the last one wins when a key repeats), every other
/// key's value skipped.
macro_rules! from_map {
    ($name:ident { $($key:literal => $field:ident),* $(,)? }) => {
        impl<'de: 'a, 'a> FromMap<'de> for $name<'a> {
            fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
                let mut read = Self::default();
                while let Some(key) = map.next_key_seed(KeyBytes)? {
                    match key.as_ref() {
                        $($key => read.$field = map.next_value()?,)*
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(read)
            }
        }
    };
}

/// One CloudTrail record: the fields the usage aggregation reads,
/// everything else skipped (`serde::de::IgnoredAny`: checked, not kept).
/// Field names as CloudTrail writes them (CloudTrail User Guide, "CloudTrail
/// record contents").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record<'a> {
    pub event_time: Text<'a>,
    pub event_source: Text<'a>,
    pub event_name: Text<'a>,
    pub error_code: Text<'a>,
    pub recipient_account_id: Text<'a>,
    pub user_identity: Object<UserIdentity<'a>>,
    pub shared_event_id: Text<'a>,
    pub event_type: Text<'a>,
}

from_map!(Record {
    b"eventTime" => event_time,
    b"eventSource" => event_source,
    b"eventName" => event_name,
    b"errorCode" => error_code,
    b"recipientAccountId" => recipient_account_id,
    b"userIdentity" => user_identity,
    b"sharedEventID" => shared_event_id,
    b"eventType" => event_type,
});

/// `userIdentity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserIdentity<'a> {
    pub kind: Text<'a>,
    pub arn: Text<'a>,
    /// The AWS service that made the call for the principal
    /// (`cloudformation.amazonaws.com`, `AWS Internal`).
    pub invoked_by: Text<'a>,
    pub session_context: Object<SessionContext<'a>>,
}

from_map!(UserIdentity {
    b"type" => kind,
    b"arn" => arn,
    b"invokedBy" => invoked_by,
    b"sessionContext" => session_context,
});

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionContext<'a> {
    pub session_issuer: Object<SessionIssuer<'a>>,
}

from_map!(SessionContext {
    b"sessionIssuer" => session_issuer,
});

/// `userIdentity.sessionContext.sessionIssuer`: the role (or user) whose
/// temporary credentials made the call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionIssuer<'a> {
    pub arn: Text<'a>,
}

from_map!(SessionIssuer {
    b"arn" => arn,
});

/// A principal named by a record, borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRef<'r> {
    pub arn: Cow<'r, str>,
    pub account: &'r str,
    pub kind: PrincipalKind,
}

/// Who made a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor<'r> {
    /// An IAM principal's own call.
    Principal(PrincipalRef<'r>),
    /// An AWS service: `AWSService` identities, calls a service made on a
    /// principal's behalf (`invokedBy` `*.amazonaws.com` or `AWS Internal`),
    /// `AwsServiceEvent`s. Not the principal's use.
    Service,
    /// `AWSAccount`: another account's caller without its identity.
    OtherAccount,
    /// The other account's copy of a shared event (`sharedEventID`): the
    /// caller's own account has the copy that counts.
    SharedCopy,
    /// Not an API call of a principal (`AwsConsoleSignIn`,
    /// `AwsConsoleAction`, Insights, VPC endpoint events).
    NotAnApiCall,
    /// An identity with no IAM principal (`SAMLUser`, `WebIdentityUser`,
    /// `IdentityCenterUser`, `Unknown`), or one fanin cannot name.
    Unattributed,
}

/// Why a record cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("{0} is missing or not a string")]
    Missing(&'static str),
    #[error("eventTime is not an RFC 3339 time")]
    Time,
}

impl Malformed {
    /// The reason code listed in the quarantine object.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnObject => "not_an_object",
            Self::Missing(_) => "missing_field",
            Self::Time => "bad_time",
        }
    }
}

/// A record's call, checked: what the aggregation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call<'r> {
    /// `eventTime`, epoch seconds.
    pub time: i64,
    pub event_source: &'r str,
    pub event_name: &'r str,
    pub error_code: Option<&'r str>,
    pub actor: Actor<'r>,
}

/// The error codes of a refused call.
pub const DENIED_CODES: [&str; 6] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
    "UnauthorizedAccess",
    "Forbidden",
];

impl<'a> Record<'a> {
    /// The call, or why the record cannot be read.
    pub fn call(&self) -> Result<Call<'_>, Malformed> {
        let time = self
            .event_time
            .get()
            .ok_or(Malformed::Missing("eventTime"))?;
        let time = epoch_seconds(time).ok_or(Malformed::Time)?;
        let event_source = self
            .event_source
            .get()
            .ok_or(Malformed::Missing("eventSource"))?;
        let event_name = self
            .event_name
            .get()
            .ok_or(Malformed::Missing("eventName"))?;
        Ok(Call {
            time,
            event_source,
            event_name,
            error_code: self.error_code.get().filter(|code| !code.is_empty()),
            actor: self.actor(),
        })
    }

    /// Who made the call (see [`Actor`]).
    pub fn actor(&self) -> Actor<'_> {
        match self.event_type.get() {
            None | Some("AwsApiCall") => {}
            Some("AwsServiceEvent") => return Actor::Service,
            Some(_) => return Actor::NotAnApiCall,
        }
        let Some(identity) = self.user_identity.get() else {
            return Actor::Unattributed;
        };
        if identity.invoked_by.get().is_some_and(is_aws_service) {
            return Actor::Service;
        }
        let principal = match identity.kind.get() {
            Some("AWSService") => return Actor::Service,
            Some("AWSAccount") => return Actor::OtherAccount,
            Some("IAMUser") => identity_principal(identity, PrincipalKind::User, ":user/"),
            Some("Root") => identity_principal(identity, PrincipalKind::Root, ":root"),
            Some("FederatedUser") => {
                identity_principal(identity, PrincipalKind::FederatedUser, ":federated-user/")
            }
            Some("AssumedRole") => role_of_session(identity),
            _ => None,
        };
        let Some(principal) = principal else {
            return Actor::Unattributed;
        };
        if self.shared_event_id.get().is_some()
            && self
                .recipient_account_id
                .get()
                .is_some_and(|recipient| recipient != principal.account)
        {
            return Actor::SharedCopy;
        }
        Actor::Principal(principal)
    }
}

/// `eventTime` as epoch seconds. CloudTrail writes `YYYY-MM-DDTHH:MM:SSZ`,
/// read here without a general parser; any other RFC 3339 form through
/// chrono.
pub fn epoch_seconds(time: &str) -> Option<i64> {
    let b = time.as_bytes();
    let fixed = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    if fixed {
        let number = |range: std::ops::Range<usize>| -> Option<u32> {
            b[range].iter().try_fold(0u32, |n, &d| {
                d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
            })
        };
        let day =
            chrono::NaiveDate::from_ymd_opt(number(0..4)? as i32, number(5..7)?, number(8..10)?)?;
        let at = day.and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)?;
        return Some(at.and_utc().timestamp());
    }
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.timestamp())
}

/// `invokedBy` names an AWS service (rather than, say, a console user agent).
fn is_aws_service(invoked_by: &str) -> bool {
    invoked_by.ends_with(".amazonaws.com") || invoked_by == "AWS Internal"
}

/// `arn:<partition>:<service>::<12 digits>:<resource>`: the account of an
/// IAM or STS ARN.
fn arn_account(arn: &str) -> Option<&str> {
    let (_partition, rest) = arn.strip_prefix("arn:")?.split_once(':')?;
    let rest = rest
        .strip_prefix("iam::")
        .or_else(|| rest.strip_prefix("sts::"))?;
    let account = rest
        .get(..12)
        .filter(|account| account.bytes().all(|b| b.is_ascii_digit()))?;
    (rest.as_bytes().get(12) == Some(&b':')).then_some(account)
}

fn identity_principal<'r>(
    identity: &'r UserIdentity<'_>,
    kind: PrincipalKind,
    marker: &str,
) -> Option<PrincipalRef<'r>> {
    let arn = identity.arn.get().filter(|arn| arn.contains(marker))?;
    Some(PrincipalRef {
        account: arn_account(arn)?,
        arn: Cow::Borrowed(arn),
        kind,
    })
}

/// An assumed-role session's role: the session issuer's ARN (with the
/// role's path), or, when a record lacks the session context, the role
/// named by the session ARN (`arn:aws:sts::<a>:assumed-role/<name>/<session>`
/// → `arn:aws:iam::<a>:role/<name>`, without a path).
fn role_of_session<'r>(identity: &'r UserIdentity<'_>) -> Option<PrincipalRef<'r>> {
    let issuer = identity
        .session_context
        .get()
        .and_then(|context| context.session_issuer.get())
        .and_then(|issuer| issuer.arn.get())
        .filter(|arn| arn.contains(":role/"));
    let (arn, account) = match issuer {
        Some(arn) => (Cow::Borrowed(arn), arn_account(arn)?),
        None => {
            let session = identity.arn.get()?;
            let account = arn_account(session)?;
            let (head, rest) = session.split_once(":assumed-role/")?;
            let name = rest.split('/').next().filter(|name| !name.is_empty())?;
            let partition = head.split(':').nth(1)?;
            (
                Cow::Owned(format!("arn:{partition}:iam::{account}:role/{name}")),
                account,
            )
        }
    };
    let kind = if arn.contains(":role/aws-service-role/") {
        PrincipalKind::ServiceLinkedRole
    } else {
        PrincipalKind::Role
    };
    Some(PrincipalRef { arn, account, kind })
}

/// Why an object cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// A read error of the source (the download's or the decompression's).
    #[error("the object cannot be read: {0}")]
    Io(std::io::Error),
    /// Broken JSON, or a top level without a `Records` array.
    #[error("not a CloudTrail log object: {0}")]
    Format(String),
    /// One record (or other top-level value) larger than the window
    /// allows ([`super::window::MAX_VALUE_BYTES`]).
    #[error("a record is larger than {0} bytes")]
    TooLarge(usize),
}

/// What reading an object gave besides the records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    /// Elements of `Records`, the malformed ones included.
    pub records: u64,
}

/// Reads a CloudTrail object's records from `source`, calling `on_record`
/// with each one's index (0-based, in `Records`) and the record, or why it
/// is malformed, as the records come. The top level's structure (`{`, the
/// keys, `Records`' `[`, `,` and `]`) is read here; each record, and each
/// other top-level value, is deserialized from the window's bytes (its
/// strings borrowed) by `serde_json`, so a broken value anywhere ends the
/// object as it did when the whole object was one `serde_json` read.
pub fn read_records<S, F>(mut source: S, mut on_record: F) -> Result<ReadSummary, TrailError>
where
    S: Source,
    F: for<'x> FnMut(u64, Result<&Record<'x>, Malformed>),
{
    let mut summary = ReadSummary::default();
    let mut found = false;
    expect(&mut source, b'{', "an object with a Records array")?;
    if next_token(&mut source).map_err(window_error)? == Some(b'}') {
        source.consume(1);
    } else {
        loop {
            let mut is_records = false;
            take_value(&mut source, |window, at_end| {
                Ok(match read_one::<Cow<'_, str>>(window, at_end)? {
                    Ok((key, used)) => {
                        is_records = key == "Records";
                        Taken::Used(used)
                    }
                    Err(incomplete) => incomplete,
                })
            })
            .map_err(|error| take_error(error, "a key of the top level"))?;
            expect(&mut source, b':', "`:` after a key")?;
            if is_records && !found {
                read_array(&mut source, &mut on_record, &mut summary)?;
                found = true;
            } else {
                skip_value(&mut source)?;
            }
            match next_token(&mut source).map_err(window_error)? {
                Some(b',') => source.consume(1),
                Some(b'}') => {
                    source.consume(1);
                    break;
                }
                _ => return Err(format("`,` or `}` after a top-level value")),
            }
        }
    }
    if next_token(&mut source).map_err(window_error)?.is_some() {
        return Err(format("trailing characters after the top-level object"));
    }
    if !found {
        return Err(TrailError::Format("no Records array".into()));
    }
    Ok(summary)
}

/// The records of an object held in memory.
pub fn read_slice<F>(bytes: &[u8], on_record: F) -> Result<ReadSummary, TrailError>
where
    F: for<'x> FnMut(u64, Result<&Record<'x>, Malformed>),
{
    read_records(SliceSource::new(bytes), on_record)
}

/// The records of an object read from `reader` (decompressed), as it
/// arrives, through a window of at most [`super::window::MAX_VALUE_BYTES`] (the
/// window buffers: no `BufReader` needed): the ingest's path, at the speed
/// of [`read_slice`].
pub fn read_reader<R, F>(reader: R, on_record: F) -> Result<ReadSummary, TrailError>
where
    R: std::io::Read,
    F: for<'x> FnMut(u64, Result<&Record<'x>, Malformed>),
{
    read_records(ReaderSource::new(reader), on_record)
}

/// `Records`' elements, each handed to `on_record` once read whole.
fn read_array<S, F>(
    source: &mut S,
    on_record: &mut F,
    summary: &mut ReadSummary,
) -> Result<(), TrailError>
where
    S: Source,
    F: for<'x> FnMut(u64, Result<&Record<'x>, Malformed>),
{
    expect(source, b'[', "the Records array")?;
    if next_token(source).map_err(window_error)? == Some(b']') {
        source.consume(1);
        return Ok(());
    }
    let mut index = 0;
    loop {
        take_value(source, |window, at_end| {
            // The record is handed to `on_record` from inside the parse,
            // never moved out; `into_iter` only says where the parse ended.
            let mut deserializer = serde_json::Deserializer::from_slice(window);
            let element = ElementSeed {
                index,
                on_record: &mut *on_record,
            }
            .deserialize(&mut deserializer)?;
            let used = deserializer.into_iter::<IgnoredAny>().byte_offset();
            Ok(match element {
                Element::Handed => Taken::Used(used),
                // A number or literal that ends with the window may go on.
                Element::NotAnObject if used == window.len() && !at_end => Taken::Incomplete,
                Element::NotAnObject => {
                    on_record(index, Err(Malformed::NotAnObject));
                    Taken::Used(used)
                }
            })
        })
        .map_err(|error| take_error(error, &format!("record {index}")))?;
        index += 1;
        summary.records = index;
        match next_token(source).map_err(window_error)? {
            Some(b',') => source.consume(1),
            Some(b']') => {
                source.consume(1);
                return Ok(());
            }
            _ => return Err(format(&format!("`,` or `]` after record {}", index - 1))),
        }
    }
}

/// What an element of `Records` was.
enum Element {
    /// An object, read and handed to `on_record`.
    Handed,
    /// Any other value, skipped: the caller hands it once it is whole.
    NotAnObject,
}

/// An element of `Records`: an object is read as a [`Record`] and handed
/// to `on_record` in place.
struct ElementSeed<'f, F> {
    index: u64,
    on_record: &'f mut F,
}

impl<'de, F> DeserializeSeed<'de> for ElementSeed<'_, F>
where
    F: for<'x> FnMut(u64, Result<&Record<'x>, Malformed>),
{
    type Value = Element;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Element, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, F> Visitor<'de> for ElementSeed<'_, F>
where
    F: for<'x> FnMut(u64, Result<&Record<'x>, Malformed>),
{
    type Value = Element;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element, A::Error> {
        let record = Record::from_map(map)?;
        (self.on_record)(self.index, Ok(&record));
        Ok(Element::Handed)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::NotAnObject)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Element, E> {
        Ok(Element::NotAnObject)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Element, E> {
        Ok(Element::NotAnObject)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Element, E> {
        Ok(Element::NotAnObject)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Element, E> {
        Ok(Element::NotAnObject)
    }
    fn visit_str<E>(self, _: &str) -> Result<Element, E> {
        Ok(Element::NotAnObject)
    }
    fn visit_unit<E>(self) -> Result<Element, E> {
        Ok(Element::NotAnObject)
    }
}

/// A top-level value other than `Records`, checked and skipped.
fn skip_value<S: Source>(source: &mut S) -> Result<(), TrailError> {
    take_value(source, |window, at_end| {
        Ok(match read_one::<IgnoredAny>(window, at_end)? {
            Ok((_, used)) => Taken::Used(used),
            Err(incomplete) => incomplete,
        })
    })
    .map_err(|error| take_error(error, "a top-level value"))
}

/// Consumes `byte`, the next token, or says what was `expected`.
fn expect<S: Source>(source: &mut S, byte: u8, expected: &str) -> Result<(), TrailError> {
    if next_token(source).map_err(window_error)? != Some(byte) {
        return Err(format(expected));
    }
    source.consume(1);
    Ok(())
}

fn format(expected: &str) -> TrailError {
    TrailError::Format(format!("expected {expected}"))
}

fn window_error(error: WindowError) -> TrailError {
    match error {
        WindowError::Io(io) => TrailError::Io(io),
        WindowError::TooLarge(limit) => TrailError::TooLarge(limit),
    }
}

fn take_error(error: TakeError, what: &str) -> TrailError {
    match error {
        TakeError::Window(error) => window_error(error),
        TakeError::Json(json) => TrailError::Format(format!("{what}: {json}")),
        TakeError::Truncated => TrailError::Format(format!("{what}: the object ends inside it")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(json: &str) -> Vec<Result<Record<'static>, Malformed>> {
        let mut out = Vec::new();
        read_reader(json.as_bytes(), |_, record| {
            out.push(record.map(|r| Record {
                event_time: owned(&r.event_time),
                event_source: owned(&r.event_source),
                event_name: owned(&r.event_name),
                error_code: owned(&r.error_code),
                recipient_account_id: owned(&r.recipient_account_id),
                shared_event_id: owned(&r.shared_event_id),
                event_type: owned(&r.event_type),
                user_identity: Object::NotAnObject,
            }))
        })
        .unwrap();
        out
    }

    fn owned(text: &Text<'_>) -> Text<'static> {
        match text {
            Text::Absent => Text::Absent,
            Text::Other => Text::Other,
            Text::Str(s) => Text::Str(Cow::Owned(s.to_string())),
        }
    }

    #[test]
    fn a_record_with_odd_types_is_malformed_and_the_next_is_read() {
        let json = r#"{"Records":[
            {"eventTime":"2026-11-30T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","readOnly":true},
            "not an object",
            {"eventTime":1,"eventSource":{"a":[1,2]},"eventName":["x"],"userIdentity":"x","readOnly":"false"},
            {"eventTime":"2026-11-30T10:00:01Z","eventSource":"ec2.amazonaws.com","eventName":"Describe\u0049nstances","extra":{"deep":[{"x":null}]},"error\u0043ode":"AccessDenied"}
        ],"extra":1}"#;
        let read = records(json);
        assert_eq!(read.len(), 4);
        let first = read[0].as_ref().unwrap();
        assert_eq!(first.event_name.get(), Some("GetObject"));
        assert_eq!(read[1], Err(Malformed::NotAnObject));
        let third = read[2].as_ref().unwrap();
        assert_eq!(third.event_time, Text::Other);
        assert_eq!(third.call().unwrap_err(), Malformed::Missing("eventTime"));
        assert_eq!(
            read[3].as_ref().unwrap().event_name.get(),
            Some("DescribeInstances")
        );
        // An escaped key is its unescaped name.
        assert_eq!(
            read[3].as_ref().unwrap().error_code.get(),
            Some("AccessDenied")
        );
    }

    /// Every callback and the result, as text.
    fn transcript<S: Source>(source: S) -> String {
        let mut out = String::new();
        let read = read_records(source, |index, record| {
            out += &format!("{index}: {:?}\n", record.map(|r| r.call()));
        });
        out + &format!("{read:?}")
    }

    #[test]
    fn a_stream_cut_anywhere_reads_as_the_slice() {
        let fixture = include_bytes!("../../../tests/fixtures/cloudtrail/user-guide-records.json");
        let record = r#"{"eventTime":"2026-11-30T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"Get\u004fbject","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a\"b"}}"#;
        let documents = [
            String::from_utf8(fixture.to_vec()).unwrap(),
            format!(
                r#" {{"extra":{{"Records":[1]}}, "Rec\u006frds" : [ {record} , 12345 ,"x", null, [{record}], {record} ] , "Records":[{{"eventName":1}}]}} "#
            ),
            format!(r#"{{"Records":[{record},{record}"#),
            format!(r#"{{"Records":[{record},]}}"#),
            format!(r#"{{"Records":[{record}]}} x"#),
            r#"{"Records":[{"eventName":"x"]}"#.to_owned(),
            r#"{"Records":[1 2]}"#.to_owned(),
            r#"{"Records":[12"#.to_owned(),
            r#"{"Records":[],}"#.to_owned(),
            r#"{"Recordz":[]}"#.to_owned(),
            r#"{}"#.to_owned(),
            String::new(),
        ];
        for document in &documents {
            let expected = transcript(SliceSource::new(document.as_bytes()));
            for (step, window) in [(1, 1), (7, 16), (64, 100), (4096, 0)] {
                let trickle = super::super::window::tests::Trickle {
                    bytes: document.as_bytes(),
                    step,
                };
                let streamed = transcript(ReaderSource::with_window(trickle, window));
                assert_eq!(
                    streamed, expected,
                    "step {step}, window {window}: {document}"
                );
            }
        }
        let mixed = transcript(SliceSource::new(documents[1].as_bytes()));
        assert!(mixed.starts_with("0: Ok(Ok(Call {"), "{mixed}");
        assert!(mixed.contains(r#"event_name: "GetObject""#), "{mixed}");
        assert!(mixed.contains(r#"user/a\"b""#), "{mixed}");
        assert!(mixed.contains("1: Err(NotAnObject)\n2: Err(NotAnObject)\n3: Err(NotAnObject)\n4: Err(NotAnObject)\n5: Ok(Ok("), "{mixed}");
        assert!(mixed.ends_with("Ok(ReadSummary { records: 6 })"), "{mixed}");
        for broken in &documents[2..] {
            let read = transcript(SliceSource::new(broken.as_bytes()));
            assert!(read.contains("Err(Format("), "{broken}: {read}");
        }
    }

    #[test]
    fn the_account_of_an_iam_or_sts_arn() {
        for (arn, account) in [
            ("arn:aws:iam::111122223333:user/a", Some("111122223333")),
            (
                "arn:aws-cn:sts::111122223333:assumed-role/r/s",
                Some("111122223333"),
            ),
            ("arn:aws:iam::111122223333:", Some("111122223333")),
            ("arn:aws:iam::111122223333", None),
            ("arn:aws:iam::11112222333:user/a", None),
            ("arn:aws:iam::1111222233334:user/a", None),
            ("arn:aws:iam::11112222333x:user/a", None),
            ("arn:aws:s3::111122223333:x", None),
            ("arn:aws:iam:eu-west-1:111122223333:user/a", None),
            ("arn:aws", None),
            ("x:aws:iam::111122223333:user/a", None),
        ] {
            assert_eq!(arn_account(arn), account, "{arn}");
        }
    }

    #[test]
    fn times_in_both_forms() {
        assert_eq!(epoch_seconds("2026-11-30T10:00:00Z"), Some(1_796_032_800));
        assert_eq!(
            epoch_seconds("2026-11-30T11:00:00+01:00"),
            Some(1_796_032_800)
        );
        assert_eq!(
            epoch_seconds("2026-11-30T10:00:00.250Z"),
            Some(1_796_032_800)
        );
        for bad in [
            "2026-13-30T10:00:00Z",
            "2026-11-30T25:00:00Z",
            "2026-11-30 10:00:00",
            "x",
        ] {
            assert_eq!(epoch_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn broken_json_and_objects_without_records_are_unreadable() {
        for json in [
            r#"{"Records":[{"eventName":"x"}"#,
            r#"{"Recordz":[]}"#,
            r#"[1,2]"#,
            r#"{"Records":[]} trailing"#,
        ] {
            assert!(
                matches!(
                    read_slice(json.as_bytes(), |_, _| {}),
                    Err(TrailError::Format(_))
                ),
                "{json}"
            );
        }
        let empty = read_slice(br#"{"Records":[]}"#, |_, _| panic!("no record")).unwrap();
        assert_eq!(empty.records, 0);
    }

    fn actor_of(json: &str) -> String {
        let mut out = String::new();
        read_slice(json.as_bytes(), |_, record| {
            out = format!("{:?}", record.unwrap().call().unwrap().actor);
        })
        .unwrap();
        out
    }

    #[test]
    fn sessions_fold_into_their_role_and_services_are_not_principals() {
        let wrap = |identity: &str, extra: &str| {
            format!(
                r#"{{"Records":[{{"eventTime":"2026-11-30T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","recipientAccountId":"111122223333","userIdentity":{identity}{extra}}}]}}"#
            )
        };
        let role = r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/i-1","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/team/app"}}}"#;
        assert!(actor_of(&wrap(role, "")).contains(
            r#"arn: "arn:aws:iam::111122223333:role/team/app", account: "111122223333", kind: Role"#
        ));
        let bare =
            r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/i-1"}"#;
        assert!(
            actor_of(&wrap(bare, ""))
                .contains(r#"arn: "arn:aws:iam::111122223333:role/app", account"#)
        );
        let linked = r#"{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForConfig/x","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"}}}"#;
        assert!(actor_of(&wrap(linked, "")).contains("ServiceLinkedRole"));
        let via = r#"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","invokedBy":"cloudformation.amazonaws.com"}"#;
        assert_eq!(actor_of(&wrap(via, "")), "Service");
        let user = r#"{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","invokedBy":"signin.amazonaws.com-ish console"}"#;
        assert!(actor_of(&wrap(user, "")).contains("kind: User"));
        assert_eq!(
            actor_of(&wrap(
                r#"{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}"#,
                ""
            )),
            "Service"
        );
        assert_eq!(
            actor_of(&wrap(
                r#"{"type":"AWSAccount","accountId":"444455556666"}"#,
                ""
            )),
            "OtherAccount"
        );
        assert_eq!(
            actor_of(&wrap(
                r#"{"type":"SAMLUser","userName":"bob","identityProvider":"x"}"#,
                ""
            )),
            "Unattributed"
        );
        let foreign = r#"{"type":"IAMUser","arn":"arn:aws:iam::444455556666:user/eve"}"#;
        assert_eq!(
            actor_of(&wrap(foreign, r#","sharedEventID":"s-1""#)),
            "SharedCopy"
        );
        assert!(actor_of(&wrap(foreign, "")).contains("kind: User"));
        assert_eq!(
            actor_of(&wrap(role, r#","eventType":"AwsServiceEvent""#)),
            "Service"
        );
        assert_eq!(
            actor_of(&wrap(role, r#","eventType":"AwsConsoleSignIn""#)),
            "NotAnApiCall"
        );
        let root = r#"{"type":"Root","arn":"arn:aws:iam::111122223333:root"}"#;
        assert!(actor_of(&wrap(root, "")).contains("kind: Root"));
        let federated =
            r#"{"type":"FederatedUser","arn":"arn:aws:sts::111122223333:federated-user/bob"}"#;
        assert!(actor_of(&wrap(federated, "")).contains("kind: FederatedUser"));
        let spoofed = r#"{"type":"IAMUser","arn":"arn:aws:iam::1111/../x:user/alice"}"#;
        assert_eq!(actor_of(&wrap(spoofed, "")), "Unattributed");
    }
}
