// Package inventory decodes an HCL inventory into a resolved, validated Inventory: the lattice,
// its hosts with every setting merged (defaults, then role, then host), and its secrets.
//
// An inventory is one .hcl file or a directory of them. Its values are HCL expressions over
// declared variables (defaults, LATTICEPUSH_VAR_<name>, -var, -var-file), locals and a set of
// functions; `hosts` blocks generate one host per element of their for_each.
//
// Load returns hcl.Diagnostics, never prints: every problem it finds (syntax, unknown
// attributes, topology rules) comes back together, each with the source range it is about,
// for the caller to render with the Loader's Files. The package does no network or SSH I/O;
// it reads the inventory, its variables files, the files its expressions name with file(),
// the secrets file and the environment, and GenerateSecrets writes the secrets file.
package inventory
