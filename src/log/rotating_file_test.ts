import assert from "node:assert/strict";
import { rotatedFiles, RotatingFile } from "./rotating_file.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const read = (path: string) => Deno.readTextFileSync(path);

Deno.test("RotatingFile rotates before a write would pass maxBytes and keeps `keep` files", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/sub/a.log`;
    const f = RotatingFile.open(path, { maxBytes: 10, keep: 2 });
    f.write(bytes("12345"));
    f.write(bytes("6789")); // 9 bytes: fits
    f.write(bytes("abc")); // 12 > 10: rotate first
    f.write(bytes("defghijklmnop")); // larger than maxBytes on its own: rotates, then written whole
    f.write(bytes("q"));
    f.close();
    assert.equal(f.rotations, 3);
    assert.deepEqual(rotatedFiles(path), [`${path}.2`, `${path}.1`, path]);
    assert.equal(read(`${path}.2`), "abc");
    assert.equal(read(`${path}.1`), "defghijklmnop");
    assert.equal(read(path), "q");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingFile appends to an existing file and counts its size", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/a.log`;
    Deno.writeTextFileSync(path, "1234567");
    const f = RotatingFile.open(path, { maxBytes: 8, keep: 1 });
    assert.equal(f.size, 7);
    f.write(bytes("89"));
    f.close();
    assert.equal(read(`${path}.1`), "1234567");
    assert.equal(read(path), "89");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingFile with maxBytes 0 never rotates; truncate() cuts back", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/a.log`;
    const f = RotatingFile.open(path, { maxBytes: 0, keep: 3 });
    for (let i = 0; i < 100; i++) f.write(bytes("0123456789"));
    f.truncate(15);
    f.write(bytes("!"));
    f.sync();
    f.close();
    assert.equal(f.rotations, 0);
    assert.equal(read(path), "012345678901234!");
    assert.deepEqual(rotatedFiles(path), [path]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RotatingFile calls onRotate with the new empty file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/j.bin`;
    const header = bytes("HDR\n");
    const f = RotatingFile.open(path, {
      maxBytes: 12,
      keep: 1,
      onRotate: (file) => file.write(header),
    });
    f.write(header);
    f.write(bytes("12345678"));
    f.write(bytes("abc"));
    f.close();
    assert.equal(read(`${path}.1`), "HDR\n12345678");
    assert.equal(read(path), "HDR\nabc");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
