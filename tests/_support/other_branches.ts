/**
 * Files that other branches own in this round, held to the faces rule of
 * tests/layers_test.ts and to the JSDoc type check of tests/doc_examples_test.ts
 * once those branches land: the relay's data path (being tuned) and src/client
 * (being renamed). A path ending in `/` names a folder.
 *
 * @module
 */

/** The files and folders, relative to the repository root. */
export const OTHER_BRANCHES: readonly string[] = [
  "src/client/",
];

/**
 * Whether a file is one of {@linkcode OTHER_BRANCHES}.
 *
 * @param file a path relative to the repository root
 * @returns true when another branch owns it
 */
export function ownedElsewhere(file: string): boolean {
  return OTHER_BRANCHES.some((e) => e.endsWith("/") ? file.startsWith(e) : file === e);
}
