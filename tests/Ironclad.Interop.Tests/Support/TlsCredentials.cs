// Client-side TLS material in the directory layout qemu's tls-creds-x509 (endpoint=client) and
// libnbd's tls-certificates= read: ca-cert.pem (whom to trust), and for mutual TLS
// client-cert.pem and client-key.pem (who the client is). The real identity comes from the real
// `ironclad dev issue-client-cert`; the impostors (another CA's certificate, a CA the server's
// certificate does not chain to) are made here, with the same algorithms, so the only difference
// the server can see is the issuer.
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Testing.Processes;

namespace Ironclad.Interop.Tests.Support;

internal static class TlsCredentials
{
    public const string CaFileName = "ca-cert.pem";
    public const string CertificateFileName = "client-cert.pem";
    public const string KeyFileName = "client-key.pem";

    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2", "Client Authentication");

    /// <summary>A directory holding only ca-cert.pem (a copy of <paramref name="serverCaPath"/>): trusts the server, has no client certificate.</summary>
    public static string TrustOnly(string serverCaPath, string directory)
    {
        Directory.CreateDirectory(directory);
        File.Copy(serverCaPath, Path.Combine(directory, CaFileName));
        return directory;
    }

    /// <summary>Runs the real `ironclad dev issue-client-cert --data DIR --name NAME --out OUTDIR`; returns OUTDIR.</summary>
    public static async Task<string> IssueAsync(string dataDirectory, string name, string outputDirectory, CancellationToken cancellationToken = default)
    {
        await using var process = IroncladProcess.Start(["dev", "issue-client-cert", "--data", dataDirectory, "--name", name, "--out", outputDirectory]);
        var exitCode = await process.WaitForExitAsync(cancellationToken: cancellationToken);
        Assert.True(exitCode == 0, $"{process.Describe()} exited {exitCode}.\n{process.CapturedOutput()}");
        foreach (var file in new[] { CaFileName, CertificateFileName, KeyFileName })
        {
            Assert.True(File.Exists(Path.Combine(outputDirectory, file)), $"{process.Describe()} did not write {file}.\n{process.CapturedOutput()}");
        }

        return outputDirectory;
    }

    /// <summary>
    /// Presents a clientAuth certificate from a freshly made CA the server has never seen, with that
    /// CA's certificate sent along as its chain. ca-cert.pem bundles the server's CA (to trust the
    /// server) and the foreign CA: qemu checks its own certificate against ca-cert.pem before it
    /// connects, so without the bundle qemu would refuse itself and the server would never be asked.
    /// </summary>
    public static string ForeignClientCertificate(string serverCaPath, string directory)
    {
        using var foreignAuthority = CreateAuthority("Interop Foreign CA");
        using var certificate = IssueClientCertificate(foreignAuthority, "impostor");
        Directory.CreateDirectory(directory);
        var foreignPem = foreignAuthority.ExportCertificatePem() + "\n";
        File.WriteAllText(Path.Combine(directory, CaFileName), File.ReadAllText(serverCaPath).TrimEnd() + "\n" + foreignPem);
        WriteIdentity(directory, certificate, chain: foreignPem);
        return directory;
    }

    /// <summary>Trusts only a CA that did not sign the server's certificate (no client certificate).</summary>
    public static string TrustingAnotherAuthority(string directory)
    {
        using var authority = CreateAuthority("Interop Unrelated CA");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, CaFileName), authority.ExportCertificatePem() + "\n");
        return directory;
    }

    private static X509Certificate2 CreateAuthority(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName} {Guid.NewGuid():N}, O=Interop Tests", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddHours(-1), now.AddDays(30));
    }

    private static X509Certificate2 IssueClientCertificate(X509Certificate2 authority, string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}, O=Ironclad", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ClientAuthentication], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var now = DateTimeOffset.UtcNow;
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] = (byte)((serial[0] & 0x7F) | 0x01);
        using var certificate = request.Create(authority, now.AddHours(-1), now.AddDays(30), serial);
        return certificate.CopyWithPrivateKey(key);
    }

    private static void WriteIdentity(string directory, X509Certificate2 certificate, string chain)
    {
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The issued certificate has no private key.");
        var keyPath = Path.Combine(directory, KeyFileName);
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(Path.Combine(directory, CertificateFileName), certificate.ExportCertificatePem() + "\n" + chain);
    }
}
