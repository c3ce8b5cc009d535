use std::time::{Duration, SystemTime};

use prost::Message as _;

use super::http::parse_retry_after;
use super::status::{retry_info, ProtoAny, ProtoDuration, RetryInfo, RpcStatus};

#[test]
fn retry_after_accepts_seconds_and_dates() {
    assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
    let later = SystemTime::now() + Duration::from_secs(120);
    let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
    assert!(
        d > Duration::from_secs(100) && d <= Duration::from_secs(120),
        "{d:?}"
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon"), None);
}

#[test]
fn retry_info_is_read_from_status_details() {
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: 2,
            nanos: 500_000_000,
        }),
    };
    let status = RpcStatus {
        code: 8,
        message: "slow down".into(),
        details: vec![ProtoAny {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.encode_to_vec(),
        }],
    };
    assert_eq!(
        retry_info(&status.encode_to_vec()),
        Some(Duration::from_millis(2500))
    );
    assert_eq!(retry_info(b"\xff\xff"), None);
}
