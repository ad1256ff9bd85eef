import Foundation
import Testing
import Formats
@testable import Pipeline
import SmallWorld
import TestSupport

// What the reader of a small world knows of each triplet: splits (one or several), the family
// kind, and a composition's steps as tasks of their own.

@Suite struct LabelledTripletsTests {
    static let world: String = {
        var o = SmallWorldSynth.Options()
        o.train = 6
        o.evalPerSplit = 9
        let dir = try! scratchFolder("labelled") + "/world"
        _ = try! SmallWorldSynth.generate(o, into: dir)
        return dir
    }()

    @Test func readsSeveralSplitsWithKindsAndSteps() throws {
        let both = try LabelledTriplets.read(Self.world, split: "seen,unseen")
        #expect(both.count == 18 && Set(both.compactMap(\.split)) == ["seen", "unseen"])
        #expect(try LabelledTriplets.read(Self.world, split: "unseen").count == 9)
        let manifest = try SmallWorldDataset(folder: Self.world).manifest
        let kinds = Dictionary(uniqueKeysWithValues: manifest.families.map { ($0.name, $0.kind.rawValue) })
        for t in both {
            let families = t.triplet.family!.split(separator: "+").map(String.init)
            #expect(t.kind == families.map { kinds[$0]! }.joined(separator: "+"))
            #expect(t.steps?.joined(separator: "+") == t.triplet.task)
        }
        let composed = try #require(both.first { $0.unseenKind == "composition" })
        #expect(composed.steps?.count == 2 && composed.kind!.contains("+"))
        #expect(throws: FormatError.self) { try LabelledTriplets.read(Self.world, split: "seen,nope") }
    }
}
