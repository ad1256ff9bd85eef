import ArgumentParser
import Tensor

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks (release builds only give meaningful numbers).")
    @OptionGroup var global: GlobalOptions
    func run() throws { try global.apply() }
}
