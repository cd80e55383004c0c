// Package evidence defines Patchring's tamper-evident evidence format and all
// of its cryptography: the per-client hash chain of lifecycle events
// ([Entry], [Append], [VerifyChain]), signed checkpoints of the chain's head
// ([Checkpoint], [SignCheckpoint], [VerifyCheckpoint]), signing keys
// ([GenerateKey], [PublicKey]), and the evidence bundle handed to auditors
// ([BundleWriter], [Verify]). docs/evidence-format.md specifies the same
// format for auditors and for anyone writing an independent verifier.
//
// The package does no I/O of its own beyond the readers and writers it is
// given, keeps no clock (callers pass every time), and imports only the
// standard library and golang.org/x/mod/sumdb/note. The server stores
// entries and keys and calls this package to hash, sign and bundle; the
// offline `patchring evidence verify` command calls [Verify]. Keeping both
// sides of the format in one package means they cannot drift apart, and the
// golden tests pin the bytes so that a bundle written today still verifies
// years from now, which matters for HIPAA's six-year retention.
//
// # Why a hash chain and not a Merkle tree
//
// golang.org/x/mod/sumdb/tlog implements RFC 6962 Merkle trees, which allow
// compact inclusion and consistency proofs. We do not use it. Patchring's
// evidence is specified as a chain in which each entry commits to the one
// before it, and a chain fits the bundle better: a bundle carries the entries of one period, and
// the first entry's previous-hash links it to the signed head before it, so
// the period can be verified alone. With a tree, verifying a period would
// need the hashes of every earlier entry or a proof for each. Auditors read
// every entry of a period anyway, so proofs of single entries buy nothing.
//
// # Why signed notes
//
// Checkpoints and the bundle manifest are signed as signed notes
// (golang.org/x/mod/sumdb/note; the format is specified as C2SP
// signed-note): Ed25519 signatures over text, one line per signature, each
// naming the key it was made with. That gives, without inventing anything:
// a textual public key an auditor can paste ("name+hash+base64"), a key ID
// derived from the key (a 32-bit hash of its name and public key), several
// signatures on one text (for a rotation overlap), and a private key text
// for the server to store. Verifiers are given a set of trusted keys, current
// and retired, and accept a signature by any of them; this is how rotation
// works. A key embedded in a bundle is never trusted, because whoever
// altered the bundle could have embedded their own.
//
// # Why a binary canonical encoding and string details
//
// An entry's hash is computed over a length-prefixed binary encoding of its
// fields (documented on [Entry.ComputeHash]), not over its JSON. The same
// entry passes through SQL rows, JSON API responses and JSON Lines files,
// and each may re-spell JSON (key order, whitespace, escapes, number
// formats; PostgreSQL's jsonb normalises all of these). A fixed field order
// with length prefixes has exactly one encoding and takes a dozen lines to
// re-implement in any language. For the same reason an entry's details are a
// flat map of string keys to string values: arbitrary JSON values would need
// a canonicalisation scheme (RFC 8785) whose number rules are easy to get
// subtly wrong.
//
// # Why the verifier collects findings
//
// An auditor needs to know everything that is wrong with a bundle, and
// exactly where: "file reports/patch-health.pdf: SHA-256 mismatch",
// "evidence-chain.jsonl: entry 18 missing (sequence jumps 17 → 19)",
// "manifest signed by key X, which is not in the trusted set". So [Verify]
// returns a [Report] listing every [Finding] rather than the first error,
// and the chain checks are arranged so that one act of tampering gives one
// finding instead of a cascade. [VerifyChain] returns only the first
// problem, as a [*ChainError], for the server's own consistency checks.
//
// # Limits
//
// Everything read is bounded, so that a hostile file cannot exhaust memory:
// an entry encodes to at most 64 KiB, a bundle holds at most 10,000 files of
// at most 256 MiB each and 1 GiB in total, and the manifest is at most
// 8 MiB. The writer applies the same limits, so it never writes a bundle the
// verifier refuses.
package evidence
