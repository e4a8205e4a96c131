// How an NBD server listens and what it demands of clients. Defaults are the safe ones: TLS
// required; plain NBD only when explicitly allowed, and only on a loopback address.
using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Ironclad.Nbd.Server;

public enum NbdTlsMode
{
    /// <summary>Plain NBD. Refused unless the listen address is loopback.</summary>
    Off,

    /// <summary>FORCEDTLS: every option but STARTTLS and ABORT is answered NBD_REP_ERR_TLS_REQD until TLS is up.
    /// With a ClientCertificateAuthority, a client certificate is optional but validated when presented.</summary>
    Required,

    /// <summary>FORCEDTLS and the client must present a certificate that chains to ClientCertificateAuthority.</summary>
    RequiredWithClientCertificate,
}

public sealed record NbdServerOptions
{
    public required IPEndPoint ListenEndPoint { get; init; }

    public NbdTlsMode TlsMode { get; init; } = NbdTlsMode.Required;

    /// <summary>Certificate (with private key) presented after STARTTLS. Required unless TlsMode is Off.</summary>
    public X509Certificate2? ServerCertificate { get; init; }

    /// <summary>CA that client certificates must chain to: demanded in RequiredWithClientCertificate; in Required,
    /// asked for but optional (a presented certificate must chain to it, else the handshake fails).</summary>
    public X509Certificate2? ClientCertificateAuthority { get; init; }

    /// <summary>Requests in flight per connection; the server stops reading when it is reached.</summary>
    public int QueueDepthMax { get; init; } = 128;

    /// <summary>Largest read or write payload accepted (advertised as the maximum block size).</summary>
    public int PayloadBytesMax { get; init; } = 32 << 20;

    /// <summary>Time a client has to finish the handshake before the server hangs up.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections at once; further ones are closed at accept.</summary>
    public int ConnectionsMax { get; init; } = 1024;
}
