import Foundation
import Testing
@testable import Formats

@Test func csvParseHandlesQuotesCRLFAndBlankLines() throws {
    // Inside quotes a line break is kept as written, as Python's csv module does.
    let text = "\u{FEFF}id,note\r\n1,\"a, \"\"quoted\"\"\r\nvalue\"\r\n\r\n2,plain\n"
    let (header, rows) = try CSV.parse(text)
    #expect(header == ["id", "note"])
    #expect(rows == [["1", "a, \"quoted\"\r\nvalue"], ["2", "plain"]])
}

@Test func csvRoundTripsWhatItWrites() throws {
    let rows: [[CSV.Field]] = [["x,y", 1, 2.5], ["say \"hi\"", -3, 0.25]]
    let (header, parsed) = try CSV.parse(try CSV.encode(header: ["name", "i", "v"], rows: rows))
    #expect(header == ["name", "i", "v"])
    #expect(parsed == [["x,y", "1", "2.5"], ["say \"hi\"", "-3", "0.25"]])
}

@Test(arguments: [
    ("", "is empty: expected a header line"),
    ("a,b\n1\n", "line 2 has 1 fields but the header has 2"),
    ("a,b\n\"1,2\n", "line 2: a quoted field is never closed"),
    ("a,b\n\"1\"x,2\n", "line 2: text after a closing quote"),
])
func csvParseRejectsMalformedText(text: String, problem: String) {
    #expect { try CSV.parse(text, path: "t.csv") } throws: { ($0 as? FormatError)?.description == "t.csv: " + problem }
}

@Test func tripletListResolvesPathsAgainstItsFolder() throws {
    let list = try TripletList.parse("a,a_prime,b,b_prime,task,ID\nx.png,/abs/y.png,z.jpg,,hue,t7\np.png,q.png,r.png,s.png,,\n",
                                     path: "l.csv", folder: "/data")
    #expect(list.triplets == [
        .init(id: "t7", a: "/data/x.png", aPrime: "/abs/y.png", b: "/data/z.jpg", task: "hue"),
        .init(id: "1", a: "/data/p.png", aPrime: "/data/q.png", b: "/data/r.png", bPrime: "/data/s.png"),
    ])
}

@Test(arguments: [
    ("a,b\nx,y\n", "l.csv: missing column a_prime (header: \"a,b\"; expected at least a,a_prime,b)"),
    ("a,a_prime,b\n", "l.csv: has a header but no triplets"),
    ("a,a_prime,b\nx,,z\n", "l.csv: line 2: empty a_prime path"),
    ("id,a,a_prime,b\n1,x,y,z\n1,x,y,z\n", "l.csv: line 3: duplicate id \"1\""),
])
func tripletListRejectsBadTables(text: String, message: String) {
    #expect { try TripletList.parse(text, path: "l.csv") } throws: { ($0 as? FormatError)?.description == message }
}
