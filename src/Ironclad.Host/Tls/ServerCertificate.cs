// The HTTPS server certificate (ECDSA P-256, ~1 year, serverAuth), issued by the local CA.
// Invariant: the certificate Kestrel serves chains to DIR/tls/ca.pem, is valid for at least
// RenewalMargin more and names every address clients use (IP:127.0.0.1, IP:::1, DNS:localhost and
// a specific --bind address); otherwise it is re-issued from the same CA on start.
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Host.Logging;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Tls;

internal static class ServerCertificate
{
    public const string CertificateFileName = "server.pem";
    public const string KeyFileName = "server-key.pem";
    public const string LocalhostName = "localhost";

    /// <summary>A certificate that expires sooner than this is re-issued.</summary>
    public static readonly TimeSpan RenewalMargin = TimeSpan.FromDays(30);

    private static readonly TimeSpan ValidityPeriod = TimeSpan.FromDays(365);
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    /// <summary>The names the certificate must carry for a server bound to <paramref name="bindAddress"/>.</summary>
    public static SubjectNames RequiredNames(IPAddress bindAddress)
    {
        ArgumentNullException.ThrowIfNull(bindAddress);
        var addresses = new List<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        // 0.0.0.0 and :: are not addresses a client connects to; clients use loopback then.
        var isWildcard = bindAddress.Equals(IPAddress.Any) || bindAddress.Equals(IPAddress.IPv6Any);
        if (!isWildcard && !addresses.Contains(bindAddress))
        {
            addresses.Add(bindAddress);
        }

        return new SubjectNames([LocalhostName], addresses);
    }

    /// <summary>Returns the certificate (with its key) to serve, reusing the stored one when it still fits.</summary>
    public static X509Certificate2 LoadOrIssue(
        string tlsDirectory, LocalCertificateAuthority authority, SubjectNames required, TimeProvider time, ILogger logger)
    {
        var certificatePath = Path.Combine(tlsDirectory, CertificateFileName);
        var keyPath = Path.Combine(tlsDirectory, KeyFileName);
        var existing = TryLoad(certificatePath, keyPath, out var reason);
        if (existing is not null)
        {
            reason = Unsuitability(existing, authority.Certificate, required, time.GetUtcNow());
            if (reason is null)
            {
                HostLog.ServerCertificateReused(logger, existing, certificatePath);
                return existing;
            }

            existing.Dispose();
        }

        var issued = Issue(authority.Certificate, required, time.GetUtcNow());
        try
        {
            using (var key = issued.GetECDsaPrivateKey())
            {
                PemFiles.WritePrivateKey(keyPath, key ?? throw new UnreachableException("issued certificate has no ECDSA key"));
            }

            PemFiles.WriteCertificate(certificatePath, issued);
        }
        catch
        {
            issued.Dispose();
            throw;
        }

        HostLog.ServerCertificateIssued(logger, issued, required.ToString(), reason, certificatePath);
        return issued;
    }

    /// <summary>Issues a server certificate for <paramref name="names"/>, signed by <paramref name="authority"/> (which must hold its key).</summary>
    public static X509Certificate2 Issue(X509Certificate2 authority, SubjectNames names, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentNullException.ThrowIfNull(names);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(
            new X500DistinguishedName($"CN={LocalhostName}, O=Ironclad"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
            certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ServerAuthentication], critical: false));
        var alternativeNames = new SubjectAlternativeNameBuilder();
        foreach (var dnsName in names.DnsNames)
        {
            alternativeNames.AddDnsName(dnsName);
        }

        foreach (var address in names.IPAddresses)
        {
            alternativeNames.AddIpAddress(address);
        }

        request.CertificateExtensions.Add(alternativeNames.Build(critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(
            authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        var (notBefore, notAfter) = CertificateIssuance.Validity(authority, now, ValidityPeriod);
        using var certificate = request.Create(authority, notBefore, notAfter, CertificateIssuance.RandomSerialNumber());
        return certificate.CopyWithPrivateKey(key);
    }

    /// <summary>Why <paramref name="certificate"/> cannot be served any more, or null if it can.</summary>
    public static string? Unsuitability(X509Certificate2 certificate, X509Certificate2 authority, SubjectNames required, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(required);
        if (certificate.NotBefore.ToUniversalTime() > now.UtcDateTime)
        {
            return "it is not yet valid";
        }

        if (certificate.NotAfter.ToUniversalTime() - now.UtcDateTime < RenewalMargin)
        {
            return "it expires within the renewal margin";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        if (!chain.Build(certificate))
        {
            return "it does not chain to the local CA";
        }

        var present = SubjectNames.Of(certificate);
        return present.Covers(required) ? null : $"it does not name {required}";
    }

    private static X509Certificate2? TryLoad(string certificatePath, string keyPath, out string reason)
    {
        if (!File.Exists(certificatePath) || !File.Exists(keyPath))
        {
            reason = "none was stored";
            return null;
        }

        try
        {
            using var publicCertificate = PemFiles.ReadCertificate(certificatePath);
            using var key = PemFiles.ReadEcdsaPrivateKey(keyPath);
            reason = string.Empty;
            return publicCertificate.CopyWithPrivateKey(key);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            // Only the server certificate is affected: it is ours to replace, unlike the CA.
            reason = "the stored one could not be loaded";
            return null;
        }
    }
}

/// <summary>The DNS names and IP addresses in a certificate's subject alternative name.</summary>
internal sealed record SubjectNames(IReadOnlyList<string> DnsNames, IReadOnlyList<IPAddress> IPAddresses)
{
    public static SubjectNames Of(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var extension = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        return extension is null
            ? new SubjectNames([], [])
            : new SubjectNames([.. extension.EnumerateDnsNames()], [.. extension.EnumerateIPAddresses()]);
    }

    public bool Covers(SubjectNames required)
    {
        ArgumentNullException.ThrowIfNull(required);
        return required.DnsNames.All(name => DnsNames.Contains(name, StringComparer.OrdinalIgnoreCase))
            && required.IPAddresses.All(IPAddresses.Contains);
    }

    public override string ToString() =>
        string.Join(", ", DnsNames.Select(name => $"DNS:{name}").Concat(IPAddresses.Select(address => $"IP:{address}")));
}
