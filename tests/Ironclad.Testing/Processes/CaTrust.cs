// HTTPS clients that trust exactly one CA: the server's generated local CA. Chain validation runs
// with X509ChainTrustMode.CustomRootTrust (the system store is ignored) and host-name checking
// stays on, so a test passes only if the server's certificate is really valid for the URL used.
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Ironclad.Testing.Processes;

public static class CaTrust
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    public static X509Certificate2 LoadCertificate(string caCertificatePath) =>
        X509Certificate2.CreateFromPem(File.ReadAllText(caCertificatePath));

    /// <summary>
    /// An HttpClient trusting only the CA in <paramref name="caCertificatePath"/>.
    /// <paramref name="onServerCertificate"/> sees a copy of each certificate a server presents.
    /// </summary>
    public static HttpClient CreateHttpClient(
        string caCertificatePath, Uri? baseAddress = null, Action<X509Certificate2>? onServerCertificate = null)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                CertificateChainPolicy = ChainPolicy(LoadCertificate(caCertificatePath)),
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is not null && onServerCertificate is not null)
                    {
                        onServerCertificate(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                    }

                    // The errors were computed with ChainPolicy below: name mismatch, broken or
                    // untrusted chain all fail here. Nothing is waved through.
                    return errors == SslPolicyErrors.None;
                },
            },
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        };
        return new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public static X509ChainPolicy ChainPolicy(X509Certificate2 root)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(root);
        policy.ApplicationPolicy.Add(ServerAuthentication);
        return policy;
    }
}
