import Foundation
import Formats

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(bytes: data, count: size)
    // Each harness spends its time on one decoder; the other has its own.
    guard ImageFormat.detect(bytes.prefix(8)) == .png else { return 0 }
    guard let image = try? Image.decode(bytes) else { return 0 }
    // The Swift wrapper copies width x height x channels samples out of the C buffer; touching
    // the last one makes a size mismatch visible to AddressSanitizer.
    precondition(image.pixels.count == image.width * image.height * image.channels)
    if let last = image.pixels.last { _ = last &+ 1 }
    return 0
}
