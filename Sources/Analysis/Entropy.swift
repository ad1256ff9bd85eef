import Foundation

/// The Shannon entropy (nats) of |v| normalised to sum 1; 0 for a zero vector. Its exp counts how
/// many entries carry the mass alike: basis elements in use, a spectrum's effective rank.
func entropy<C: Collection>(ofShares v: C) -> Double where C.Element == Float {
    let total = v.reduce(0.0) { $0 + Double(abs($1)) }
    guard total > 0 else { return 0 }
    return v.reduce(0.0) { h, x in
        let p = Double(abs(x)) / total
        return p > 0 ? h - p * log(p) : h
    }
}
