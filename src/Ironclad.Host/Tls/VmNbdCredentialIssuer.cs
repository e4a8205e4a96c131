// Per-VM NBD client credentials: a fresh ECDSA P-256 key and a certificate with subject
// CN=vm-{vmId} and EKU clientAuth, issued by the data directory's local CA, returned as PEM once.
// Invariants: the private key is never stored or logged (it lives only in the returned record);
// validity is 1–720 hours and never outlasts the CA.
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Compute.VirtualMachines;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Tls;

internal sealed class VmNbdCredentialIssuer : IVmNbdCredentialIssuer, IDisposable
{
    public static readonly TimeSpan ValidityMin = TimeSpan.FromHours(1);
    public static readonly TimeSpan ValidityMax = TimeSpan.FromHours(720);

    private readonly Lazy<LocalCertificateAuthority> _authority;
    private readonly TimeProvider _time;

    public VmNbdCredentialIssuer(string tlsDirectory, TimeProvider time, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(tlsDirectory);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _time = time;
        // The server created the CA before it listened; load it (with its key) at first use.
        _authority = new Lazy<LocalCertificateAuthority>(() => LocalCertificateAuthority.Load(tlsDirectory, time, logger));
    }

    public VmNbdCredentials Issue(Guid vmUniqueId, TimeSpan validity)
    {
        if (validity < ValidityMin || validity > ValidityMax)
        {
            throw new ArgumentOutOfRangeException(nameof(validity), validity, "A VM's NBD certificate is valid for 1 to 720 hours.");
        }

        var authority = _authority.Value.Certificate;
        var subject = VmNbdNames.ClientCertificateSubject(vmUniqueId);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(subject["CN=".Length..]);
        var request = new CertificateRequest(name.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(
            certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([ClientCertificate.ClientAuthentication], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(
            authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));

        var (notBefore, notAfter) = CertificateIssuance.Validity(authority, _time.GetUtcNow(), validity);
        using var certificate = request.Create(authority, notBefore, notAfter, CertificateIssuance.RandomSerialNumber());
        return new VmNbdCredentials(
            certificate.Subject,
            authority.ExportCertificatePem() + "\n",
            certificate.ExportCertificatePem() + "\n",
            key.ExportPkcs8PrivateKeyPem() + "\n",
            new DateTimeOffset(certificate.NotAfter.ToUniversalTime()));
    }

    public void Dispose()
    {
        if (_authority.IsValueCreated)
        {
            _authority.Value.Dispose();
        }
    }
}
