//! The owner's switch: service on or off for the whole property, a door, or a carrier.

use std::collections::BTreeSet;

use crate::ids::{CarrierId, DoorId};

/// What the owner has switched off. The default is "everything on".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceSwitch {
    /// The whole building is off: no delivery entry at any door.
    pub property_disabled: bool,
    /// Doors switched off one by one.
    pub disabled_doors: BTreeSet<DoorId>,
    /// Carriers switched off at this property.
    pub disabled_carriers: BTreeSet<CarrierId>,
}

impl ServiceSwitch {
    /// Everything on.
    pub fn all_on() -> ServiceSwitch {
        ServiceSwitch::default()
    }

    /// Whether deliveries may use `door` at all (property and door switches).
    pub fn door_enabled(&self, door: &DoorId) -> bool {
        !self.property_disabled && !self.disabled_doors.contains(door)
    }

    /// Whether `carrier` may enter this property at all.
    pub fn carrier_enabled(&self, carrier: &CarrierId) -> bool {
        !self.property_disabled && !self.disabled_carriers.contains(carrier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches() {
        let d1 = DoorId::new("d1").unwrap();
        let c1 = CarrierId::new("c1").unwrap();
        let mut s = ServiceSwitch::all_on();
        assert!(s.door_enabled(&d1) && s.carrier_enabled(&c1));
        s.disabled_doors.insert(d1.clone());
        assert!(!s.door_enabled(&d1) && s.carrier_enabled(&c1));
        s.disabled_doors.clear();
        s.disabled_carriers.insert(c1.clone());
        assert!(s.door_enabled(&d1) && !s.carrier_enabled(&c1));
        let off = ServiceSwitch {
            property_disabled: true,
            ..ServiceSwitch::default()
        };
        assert!(!off.door_enabled(&d1) && !off.carrier_enabled(&c1));
    }
}
