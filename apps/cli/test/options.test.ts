import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { nonNegativeInt, percent, positiveInt, positiveNumber, usageError } from "../src/options";

describe("option parsers", () => {
  it("take what fits and refuse the rest as commander argument errors", () => {
    expect(positiveInt("3")).toBe(3);
    expect(nonNegativeInt("0")).toBe(0);
    expect(positiveNumber("0.5")).toBe(0.5);
    expect(percent("100")).toBe(100);
    for (const [parse, bad] of [
      [positiveInt, "0"],
      [positiveInt, "2.5"],
      [positiveInt, "x"],
      [nonNegativeInt, "-1"],
      [positiveNumber, "0"],
      [percent, "101"],
      [percent, "abc"],
    ] as const) {
      expect(() => parse(bad), `${parse.name}(${bad})`).toThrow(InvalidArgumentError);
    }
  });
  it("usageError carries the usage code and the hint", () => {
    expect(usageError("give --backup or --latest", "e.g. --latest")).toMatchObject({
      code: "usage",
      message: "give --backup or --latest",
      hint: "e.g. --latest",
    });
  });
});
