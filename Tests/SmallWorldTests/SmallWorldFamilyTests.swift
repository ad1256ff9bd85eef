import Formats
import Foundation
import Testing
import Tensor
@testable import SmallWorld
import TestSupport

/// A fixed set of random scenes to try edits on.
private let scenes: [Scene] = (0..<12).map { i in
    var rng = RNG(seed: 7).fork(UInt64(i))
    return Scene.random(&rng)
}

/// Every (family, value) pair of the table, training and unseen values alike.
private let allSteps: [TaskStep] = Families.all.flatMap { family -> [TaskStep] in
    let values: [ParameterValue?] = family.parameter == nil ? [nil] : family.trainValues + family.unseenValues
    return values.map { TaskStep(family: family.name, value: $0) }
}

@Suite struct SmallWorldFamilyTests {
    @Test func tableHasFortyPlusFamiliesOfEveryKind() {
        #expect(Families.all.count >= 40)
        #expect(Set(Families.all.map(\.name)).count == Families.all.count)
        #expect(Set(Families.all.map(\.kind)) == Set(FamilyKind.allCases))
        let heldOut = Families.all.filter(\.heldOut)
        #expect(heldOut.count == 8)
        #expect(heldOut.allSatisfy { !$0.textDescribable && $0.unseenValues.isEmpty })
        #expect(Families.all.allSatisfy { ($0.parameter == nil) == $0.trainValues.isEmpty })
        for family in Families.all { #expect(Set(family.trainValues).isDisjoint(with: family.unseenValues), "\(family.name)") }
    }

    @Test func everyFamilyIsDeterministicAndChangesPictures() {
        for step in allSteps {
            let task = EditTask([step])
            var changed = 0
            for scene in scenes {
                let once = task.apply(to: scene, size: 32), twice = task.apply(to: scene, size: 32)
                #expect(once.image == twice.image && once.objectMask == twice.objectMask, "\(task.id) is not deterministic")
                if once.image != scene.render(size: 32).image { changed += 1 }
            }
            // Most scenes must show the edit (a few may not: recolouring a red object red).
            #expect(changed >= scenes.count / 2, "\(task.id) changed only \(changed) of \(scenes.count) scenes")
        }
    }

    @Test func captionsAreShortEnglishAndDistinctPerTask() {
        let captions = allSteps.map { EditTask([$0]).caption }
        #expect(Set(captions).count == captions.count)
        #expect(captions.allSatisfy { !$0.isEmpty && $0.count < 60 && $0.first!.isLowercase })
    }

    @Test func parametersRoundTripThroughJSON() throws {
        let plan = TaskPlan(seed: 3)
        let tasks = plan.train + UnseenKind.allCases.flatMap { plan.unseen[$0]! }
        let decoded = try JSONDecoder().decode([EditTask].self, from: JSONFile.encode(tasks))
        #expect(decoded == tasks)
        #expect(decoded.map(\.id) == tasks.map(\.id))
        let json = String(decoding: try JSONFile.encode(EditTask([TaskStep(family: "hue_rotate", value: .number(60))])), as: UTF8.self)
        #expect(json.contains("\"value\" : 60") && json.contains("\"parameter\" : \"degrees\""))
    }

    @Test func splitsAreDisjointAsSpecified() {
        let plan = TaskPlan(seed: 11)
        let train = Set(plan.train.map(\.id))
        let heldOut = Set(Families.all.filter(\.heldOut).map(\.name))
        #expect(plan.train.allSatisfy { Set($0.families).isDisjoint(with: heldOut) })
        for kind in UnseenKind.allCases {
            #expect(!plan.unseen[kind]!.isEmpty)
            #expect(plan.unseen[kind]!.allSatisfy { !train.contains($0.id) })
        }
        #expect(plan.unseen[.family]!.allSatisfy { $0.families.allSatisfy(heldOut.contains) })
        #expect(Set(plan.unseen[.family]!.flatMap(\.families)) == heldOut)
        for task in plan.unseen[.parameter]! {
            let step = task.steps[0], family = Families.named(step.family)!
            #expect(task.steps.count == 1 && !family.heldOut && family.unseenValues.contains(step.value!))
        }
        // Compositions: unseen pairs of families never appear together in training.
        let pairs = { (tasks: [EditTask]) in Set(tasks.filter { $0.steps.count == 2 }.map { Set($0.families) }) }
        let trainPairs = pairs(plan.train), unseenPairs = pairs(plan.unseen[.composition]!)
        #expect(trainPairs.count == 24 && unseenPairs.count == 16)
        #expect(trainPairs.isDisjoint(with: unseenPairs))
        #expect(plan.unseen[.composition]!.allSatisfy { $0.families.allSatisfy { !heldOut.contains($0) } })
        // The seed picks the compositions; the same seed picks the same ones.
        #expect(TaskPlan(seed: 11).train == plan.train)
        #expect(pairs(TaskPlan(seed: 12).train) != trainPairs)
    }

    @Test func oneTaskGivesConsistentEditsOnDifferentScenes() {
        let red = Palette.color("red"), blue = Palette.color("blue")
        var plainScenes = scenes
        for i in plainScenes.indices {
            plainScenes[i].category = .object
            plainScenes[i].texture = .solid
            plainScenes[i].background.stars = 0
        }
        let recolor = EditTask([TaskStep(family: "recolor_object", value: .name("red"))])
        let background = EditTask([TaskStep(family: "background_color", value: .name("blue"))])
        for scene in plainScenes {
            let edited = recolor.apply(to: scene, size: 32)
            for i in 0..<(32 * 32) where edited.objectMask[i] {
                #expect(Array(edited.image.pixels[3 * i..<3 * i + 3]) == [red.r, red.g, red.b])
            }
            let behind = background.apply(to: scene, size: 32)
            for i in 0..<(32 * 32) where !behind.objectMask[i] {
                #expect(Array(behind.image.pixels[3 * i..<3 * i + 3]) == [blue.r, blue.g, blue.b])
            }
            // A hat only adds pixels: the subject's old pixels stay the subject's.
            let hat = EditTask([TaskStep(family: "add_hat", value: .name("black"))]).apply(to: scene, size: 32)
            let before = scene.render(size: 32)
            #expect(zip(before.objectMask, hat.objectMask).allSatisfy { !$0 || $1 })
        }
    }

    @Test func layoutEditsComposeLikeTheirGeometry() {
        for scene in scenes {
            var flipped = scene
            flipped.flipHorizontally(); flipped.flipHorizontally()
            #expect(flipped.render(size: 32).image == scene.render(size: 32).image)
            var turned = scene
            for _ in 0..<4 { turned.rotate(quarterTurns: 1) }
            #expect(turned == scene)
            // Upside down twice is the identity too, and differs from a half turn by a mirror.
            var upside = scene
            upside.flipVertically(); upside.flipVertically()
            #expect(upside.render(size: 32).image == scene.render(size: 32).image)
        }
    }
}
