// The platform's own credential: an in-process capability object, the analogue of a host's access
// to its instance metadata service. Whoever holds it can obtain managed identities' tokens; there is
// no HTTP path to it and no way to construct one outside this assembly. Invariant: an identity
// provider hands out exactly one, to the composition root (the host), which passes it only to
// platform components (e.g. the compute provider's disk-encryption-set worker), never to an edge.
namespace Ironclad.Identity;

public sealed class PlatformCredential
{
    internal PlatformCredential(IdentityProvider issuer)
    {
        Issuer = issuer;
    }

    internal IdentityProvider Issuer { get; }

    public override string ToString() => "PlatformCredential";
}
