// In-process tests of the TLS material rules: the CA is created once and never replaced, the server
// certificate is reused while it fits and re-issued from the same CA when it does not.
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Host.Server;
using Ironclad.Host.Tls;
using Ironclad.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ironclad.Host.Tests;

public sealed class TlsMaterialTests
{
    private static readonly DateTimeOffset Start = new(2030, 1, 15, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Second_prepare_reuses_both_the_ca_and_the_server_certificate()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var (caFirst, serverFirst) = Prepare(temporary.Path, IPAddress.Loopback, Start);
        var (caSecond, serverSecond) = Prepare(temporary.Path, IPAddress.Loopback, Start.AddDays(1));

        Assert.Equal(caFirst, caSecond);
        Assert.Equal(serverFirst, serverSecond);
    }

    [Fact]
    public void Server_certificate_is_reissued_from_the_same_ca_when_the_bind_address_is_not_named()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var other = IPAddress.Parse("127.0.0.2");
        var (caFirst, serverFirst) = Prepare(temporary.Path, IPAddress.Loopback, Start);
        var (caSecond, serverSecond) = Prepare(temporary.Path, other, Start);

        Assert.Equal(caFirst, caSecond);
        Assert.NotEqual(serverFirst, serverSecond);
        using var certificate = ReadServerCertificate(temporary.Path);
        var addresses = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateIPAddresses().ToList();
        Assert.Contains(other, addresses);
        Assert.Contains(IPAddress.Loopback, addresses);
    }

    [Fact]
    public void Server_certificate_close_to_expiry_is_reissued_and_the_ca_is_kept()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var (caFirst, serverFirst) = Prepare(temporary.Path, IPAddress.Loopback, Start);
        var (caSecond, serverSecond) = Prepare(temporary.Path, IPAddress.Loopback, Start.AddDays(340));

        Assert.Equal(caFirst, caSecond);
        Assert.NotEqual(serverFirst, serverSecond);
        using var certificate = ReadServerCertificate(temporary.Path);
        Assert.True(certificate.NotAfter.ToUniversalTime() > Start.AddDays(600).UtcDateTime);
    }

    [Fact]
    public void Damaged_server_certificate_is_reissued()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        var (_, serverFirst) = Prepare(temporary.Path, IPAddress.Loopback, Start);
        File.WriteAllText(Path.Combine(temporary.Path, ServerCertificate.CertificateFileName), "garbage");

        var (_, serverSecond) = Prepare(temporary.Path, IPAddress.Loopback, Start);

        Assert.NotEqual(serverFirst, serverSecond);
    }

    [Fact]
    public void Ca_certificate_without_its_key_stops_the_start_instead_of_minting_a_new_ca()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        Prepare(temporary.Path, IPAddress.Loopback, Start);
        var caPath = Path.Combine(temporary.Path, LocalCertificateAuthority.CertificateFileName);
        var caBytes = File.ReadAllBytes(caPath);
        File.Delete(Path.Combine(temporary.Path, LocalCertificateAuthority.KeyFileName));

        var failure = Assert.Throws<StartupException>(() => Prepare(temporary.Path, IPAddress.Loopback, Start));

        Assert.Contains("private key", failure.Message, StringComparison.Ordinal);
        Assert.Equal(caBytes, File.ReadAllBytes(caPath));
    }

    [Fact]
    public void Expired_ca_stops_the_start_with_instructions()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        Prepare(temporary.Path, IPAddress.Loopback, Start);

        var failure = Assert.Throws<StartupException>(() => Prepare(temporary.Path, IPAddress.Loopback, Start.AddYears(11)));

        Assert.Contains("expired", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ca_is_a_ten_year_certificate_authority_that_may_only_sign_end_entities()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        Prepare(temporary.Path, IPAddress.Loopback, Start);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(temporary.Path, LocalCertificateAuthority.CertificateFileName)));

        var constraints = ca.Extensions.OfType<X509BasicConstraintsExtension>().Single();
        Assert.True(constraints.CertificateAuthority);
        Assert.True(constraints.Critical);
        Assert.Equal(0, constraints.PathLengthConstraint);
        Assert.True(ca.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        Assert.InRange((ca.NotAfter - ca.NotBefore).TotalDays, 3650, 3660);
        using var key = ca.GetECDsaPublicKey();
        Assert.Equal(256, key?.KeySize);
    }

    [Fact]
    public void Wildcard_bind_adds_no_address_beyond_loopback()
    {
        var names = ServerCertificate.RequiredNames(IPAddress.Any);

        Assert.Equal(["localhost"], names.DnsNames);
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], names.IPAddresses);
    }

    // Returns the CA and server thumbprints after preparing TLS material in `directory` at `now`.
    private static (string Ca, string Server) Prepare(string directory, IPAddress bindAddress, DateTimeOffset now)
    {
        using var material = TlsMaterial.Prepare(directory, bindAddress, new FixedTimeProvider(now), NullLogger.Instance);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(material.CaCertificatePath));
        Assert.True(material.ServerCertificate.HasPrivateKey);
        return (ca.Thumbprint, material.ServerCertificate.Thumbprint);
    }

    private static X509Certificate2 ReadServerCertificate(string directory) =>
        X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(directory, ServerCertificate.CertificateFileName)));

    private sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
