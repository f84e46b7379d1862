use doorman_trust::fixture::Fixture;

#[test]
fn the_standard_pass_opens_the_door_once() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let mut state = f.state().unwrap();
    let d = f.present(&device, &mut state, &f.pass, f.now);
    assert!(d.is_allow(), "{d:?}");
    let d = f.present(&device, &mut state, &f.pass, f.now);
    assert_eq!(d.reason().map(|r| r.code()), Some("replayed"), "{d:?}");
    println!("pass size {} bytes text", f.pass.len());
}
