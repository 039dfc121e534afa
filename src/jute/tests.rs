use super::*;

#[test]
fn primitives_round_trip() {
    let mut b = BytesMut::new();
    7i32.write(&mut b);
    (-2i64).write(&mut b);
    true.write(&mut b);
    Some(vec![1u8, 2]).write(&mut b);
    None::<Vec<u8>>.write(&mut b);
    "zk".to_string().write(&mut b);
    vec!["a".to_string(), "b".to_string()].write(&mut b);
    let i = &b[..];
    let (i, a) = i32::read(i).unwrap();
    let (i, c) = i64::read(i).unwrap();
    let (i, d) = bool::read(i).unwrap();
    let (i, e) = Option::<Vec<u8>>::read(i).unwrap();
    let (i, f) = Option::<Vec<u8>>::read(i).unwrap();
    let (i, g) = String::read(i).unwrap();
    let (i, h) = Vec::<String>::read(i).unwrap();
    assert!(i.is_empty());
    assert_eq!((a, c, d), (7, -2, true));
    assert_eq!(e, Some(vec![1, 2]));
    assert_eq!(f, None);
    assert_eq!(g, "zk");
    assert_eq!(h, vec!["a", "b"]);
}

#[test]
fn hostile_lengths_are_rejected_without_allocating() {
    assert_eq!(
        String::read(&[0x7f, 0xff, 0xff, 0xff, b'a']),
        Err(JuteError::BadLength(i32::MAX))
    );
    assert_eq!(
        Vec::<i64>::read(&[0xff, 0xff, 0xff, 0xfe]),
        Err(JuteError::BadLength(-2))
    );
    assert_eq!(i64::read(&[1, 2, 3]), Err(JuteError::Truncated));
}

#[test]
fn any_nonzero_byte_is_true() {
    assert!(bool::read(&[2]).unwrap().1);
}
