//! Fees of a client service: fixed, percentage (half-even to 4 decimals), or by amount band.

use crate::money::to_scale;
use crate::record::{FeeType, NewService};
use rust_decimal::Decimal;

/// The fee a service charges on `amount`: the first tier whose inclusive bounds hold the
/// amount wins; no tier matching uses the service's own fee.
pub fn fee_for(service: &NewService, amount: Decimal) -> Decimal {
    if !service.has_transaction_fee {
        return Decimal::ZERO;
    }
    let (fee_type, fee) = service
        .fee_tiers
        .iter()
        .find(|t| t.min_amount.0 <= amount && amount <= t.max_amount.0)
        .map(|t| (Some(t.fee_type), t.fee.0))
        .unwrap_or((service.transaction_fee_type, service.transaction_fee.0));
    match fee_type {
        Some(FeeType::Percentage) => to_scale(amount * fee / Decimal::ONE_HUNDRED),
        Some(FeeType::Fixed) | None => to_scale(fee),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Money;
    use crate::record::FeeTier;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn service(fee_type: FeeType, fee: &str, tiers: Vec<FeeTier>) -> NewService {
        NewService {
            client_id: 1,
            client_service_code: "S".into(),
            client_service_name: "S".into(),
            service_code: "CUSTOM_SERVICE".into(),
            has_transaction_fee: true,
            transaction_fee_type: Some(fee_type),
            transaction_fee: Money(d(fee)),
            fee_tiers: tiers,
            minimum_transaction_amount: Money(d("1")),
            maximum_transaction_amount: Money(d("1000")),
            is_active: true,
            created_at_ms: 0,
        }
    }

    #[test]
    fn fixed_and_percentage() {
        assert_eq!(fee_for(&service(FeeType::Fixed, "4", vec![]), d("100")), d("4.0000"));
        assert_eq!(
            fee_for(&service(FeeType::Percentage, "4", vec![]), d("100")),
            d("4.0000")
        );
        // 2.5% of 0.0003 = 0.0000075 -> 0.0000 (half-even); of 0.0007 -> 0.0000175 -> 0.0000
        assert_eq!(
            fee_for(&service(FeeType::Percentage, "2.5", vec![]), d("0.0003")),
            d("0")
        );
        // 1.5% of 10.01 = 0.15015 -> 0.1502 (half-even of ...15 -> 2)
        assert_eq!(
            fee_for(&service(FeeType::Percentage, "1.5", vec![]), d("10.01")),
            d("0.1502")
        );
        // exactly half: 0.5% of 0.01 = 0.00005 -> 0.0000 (even); 0.5% of 0.03 = 0.00015 -> 0.0002
        assert_eq!(
            fee_for(&service(FeeType::Percentage, "0.5", vec![]), d("0.01")),
            d("0.0000")
        );
        assert_eq!(
            fee_for(&service(FeeType::Percentage, "0.5", vec![]), d("0.03")),
            d("0.0002")
        );
    }

    #[test]
    fn first_matching_tier_wins_bounds_inclusive() {
        let tiers = vec![
            FeeTier {
                min_amount: Money(d("1")),
                max_amount: Money(d("100")),
                fee_type: FeeType::Fixed,
                fee: Money(d("1")),
            },
            FeeTier {
                min_amount: Money(d("100")),
                max_amount: Money(d("500")),
                fee_type: FeeType::Percentage,
                fee: Money(d("1")),
            },
        ];
        let s = service(FeeType::Fixed, "9", tiers);
        assert_eq!(fee_for(&s, d("100")), d("1"));
        assert_eq!(fee_for(&s, d("100.0001")), d("1.0000"));
        assert_eq!(fee_for(&s, d("500")), d("5"));
        assert_eq!(fee_for(&s, d("600")), d("9"));
    }

    #[test]
    fn no_fee_when_service_has_none() {
        let mut s = service(FeeType::Fixed, "4", vec![]);
        s.has_transaction_fee = false;
        assert_eq!(fee_for(&s, d("100")), Decimal::ZERO);
    }
}
