// The HttpClient Compute calls vaults with: HTTPS that trusts exactly the server's local CA (custom
// root trust; the system store is ignored, host names are checked) and connects to loopback only.
// Invariant: a key URL naming any other host can never make this process open a connection there
// (no SSRF through a customer-supplied keyUrl).
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ironclad.Compute.KeyAccess;

public static class VaultHttp
{
    /// <summary>How long one vault call may take before the vault counts as unavailable.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    /// <summary>True when <paramref name="vaultUri"/> is an https origin on a loopback IP address (what vaults here are).</summary>
    public static bool IsLoopbackVault(Uri vaultUri) =>
        vaultUri is { IsAbsoluteUri: true } && vaultUri.Scheme == Uri.UriSchemeHttps
        && IPAddress.TryParse(vaultUri.IdnHost.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);

    /// <summary>A client trusting only <paramref name="caCertificate"/> (the caller keeps ownership of it).</summary>
    public static HttpClient CreateClient(X509Certificate2 caCertificate)
    {
        ArgumentNullException.ThrowIfNull(caCertificate);
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(caCertificate);
        policy.ApplicationPolicy.Add(ServerAuthentication);
#pragma warning disable CA2000 // The HttpClient owns and disposes the handler.
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = policy,
                // Errors were computed with the policy above: untrusted chain or wrong name fail.
                RemoteCertificateValidationCallback = (_, _, _, errors) => errors == SslPolicyErrors.None,
            },
            ConnectCallback = ConnectLoopbackAsync,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = false,
            AllowAutoRedirect = false,
        };
#pragma warning restore CA2000
        return new HttpClient(handler, disposeHandler: true) { Timeout = RequestTimeout };
    }

    private static async ValueTask<Stream> ConnectLoopbackAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endPoint = context.DnsEndPoint;
        if (!IPAddress.TryParse(endPoint.Host.Trim('[', ']'), out var address) || !IPAddress.IsLoopback(address))
        {
            throw new HttpRequestException($"Vault calls go to loopback addresses only, not to '{endPoint.Host}'.");
        }

        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, endPoint.Port), cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
