import { describe, expect, it } from "vitest";
import { copyBytea, copyIntArray, copyJson, copyRow, copyText, copyTextArray, fixed } from "../src/copy-text";

describe("COPY text encoding", () => {
  it("escapes backslash, newline, carriage return and tab, and writes NULL as \\N", () => {
    expect(copyText("a\tb\nc\rd\\e")).toBe("a\\tb\\nc\\rd\\\\e");
    expect(copyText(null)).toBe("\\N");
    expect(copyText(undefined)).toBe("\\N");
    expect(copyText("\\N")).toBe("\\\\N");
    expect(copyText("")).toBe("");
    expect(copyText("before\n\\.\nafter")).toBe("before\\n\\\\.\\nafter");
    expect(copyText("شرکت 'آرمان' \"x\"")).toBe("شرکت 'آرمان' \"x\"");
  });

  it("writes bytea as escaped hex, empty bytea as \\\\x", () => {
    expect(copyBytea(Buffer.from([0, 255]))).toBe("\\\\x00ff");
    expect(copyBytea(Buffer.alloc(0))).toBe("\\\\x");
    expect(copyBytea(null)).toBe("\\N");
  });

  it("quotes array elements that need it, then COPY-escapes the literal", () => {
    expect(copyTextArray(["vip", "a,b", 'q"', "back\\slash", null, "", "NULL", "two words"])).toBe(
      '{vip,"a,b","q\\\\"","back\\\\\\\\slash",NULL,"","NULL","two words"}',
    );
    expect(copyTextArray(["line\nbreak"])).toBe('{"line\\nbreak"}');
    expect(copyTextArray([])).toBe("{}");
    expect(copyTextArray(null)).toBe("\\N");
    expect(
      copyIntArray([
        [1, 2],
        [3, null],
      ]),
    ).toBe("{{1,2},{3,NULL}}");
  });

  it("escapes JSON text like any other text", () => {
    expect(copyJson({ a: "x\ny" })).toBe('{"a":"x\\\\ny"}');
    expect(copyJson(null)).toBe("\\N");
  });

  it("formats fixed-point numbers from integer units", () => {
    expect(fixed(12345, 2)).toBe("123.45");
    expect(fixed(5, 2)).toBe("0.05");
    expect(fixed(-5, 2)).toBe("-0.05");
    expect(fixed(0, 6)).toBe("0.000000");
    expect(fixed(7, 0)).toBe("7");
    expect(fixed(123456789012345678901234567890n, 6)).toBe("123456789012345678901234.567890");
  });

  it("joins fields with tabs and ends rows with a newline", () => {
    expect(copyRow(["1", "\\N", "x"])).toBe("1\t\\N\tx\n");
  });
});
