// The keys data plane's own tests may read its internals (the RSA cache size, the store's rules).
using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Ironclad.KeyVault.Tests")]
