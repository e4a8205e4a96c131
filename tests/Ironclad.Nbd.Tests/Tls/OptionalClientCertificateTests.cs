// TLS `Required` with a client CA: the server asks for a client certificate but does not demand one.
// Invariant: no certificate → an anonymous TLS client (CertificateSubject null); a certificate that
// does not chain to the CA with clientAuth fails the handshake; only a validated subject reaches the catalog.
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ironclad.Nbd.Server;
using Ironclad.Nbd.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Nbd.Tests.Tls;

public sealed class OptionalClientCertificateTests : IDisposable
{
    private readonly X509Certificate2 _server = CreateServerCertificate();
    private readonly X509Certificate2 _ca = CreateAuthority("CN=test nbd ca");
    private readonly X509Certificate2 _otherCa = CreateAuthority("CN=some other ca");

    public void Dispose()
    {
        _server.Dispose();
        _ca.Dispose();
        _otherCa.Dispose();
    }

    [Fact]
    public async Task Without_a_certificate_the_client_is_anonymous()
    {
        await using var server = StartServer();
        await using var client = await StartTlsAsync(server, clientCertificate: null);

        await AssertReadWriteAsync(client);
        var opened = Assert.Single(server.Catalog.OpenedBy);
        Assert.True(opened.IsTls);
        Assert.Null(opened.CertificateSubject);
    }

    [Fact]
    public async Task A_certificate_from_the_ca_with_client_auth_names_the_client()
    {
        using var certificate = Issue(_ca, "CN=vm-1234", clientAuth: true);
        await using var server = StartServer();
        await using var client = await StartTlsAsync(server, certificate);

        await AssertReadWriteAsync(client);
        var opened = Assert.Single(server.Catalog.OpenedBy);
        Assert.True(opened.IsTls);
        Assert.Equal("CN=vm-1234", opened.CertificateSubject);
    }

    [Theory]
    [InlineData(false, true)] // another CA's certificate
    [InlineData(true, false)] // our CA, but not for client authentication
    public async Task A_certificate_that_does_not_validate_fails_the_handshake(bool fromOurCa, bool clientAuth)
    {
        using var certificate = Issue(fromOurCa ? _ca : _otherCa, "CN=vm-1234", clientAuth);
        await using var server = StartServer();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        Assert.Equal(Wire.RepAck, Assert.Single(await client.OptionAsync(Wire.OptStartTls)).Type);

        // TLS 1.3 lets the client finish before the server judged its certificate: the failure shows
        // either in the client's handshake or as the connection closing under the next option.
        var failure = await Record.ExceptionAsync(async () =>
        {
            await client.UpgradeToTlsAsync(_server, certificate);
            await client.GoAsync(NbdTestServer.Disk);
        });

        Assert.NotNull(failure);
        await server.WaitForNoConnectionsAsync();
        Assert.Empty(server.Catalog.OpenedBy);
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("TLS", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mutual_mode_still_demands_a_certificate()
    {
        await using var server = NbdTestServer.Start(o => o with { TlsMode = NbdTlsMode.RequiredWithClientCertificate, ServerCertificate = _server, ClientCertificateAuthority = _ca });
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        Assert.Equal(Wire.RepAck, Assert.Single(await client.OptionAsync(Wire.OptStartTls)).Type);

        var failure = await Record.ExceptionAsync(async () =>
        {
            await client.UpgradeToTlsAsync(_server, clientCertificate: null);
            await client.GoAsync(NbdTestServer.Disk);
        });

        Assert.NotNull(failure);
        await server.WaitForNoConnectionsAsync();
        Assert.Empty(server.Catalog.OpenedBy);
    }

    private NbdTestServer StartServer() =>
        NbdTestServer.Start(o => o with { TlsMode = NbdTlsMode.Required, ServerCertificate = _server, ClientCertificateAuthority = _ca });

    private async Task<RawNbdClient> StartTlsAsync(NbdTestServer server, X509Certificate2? clientCertificate)
    {
        var client = await server.ConnectAsync();
        try
        {
            await client.StartHandshakeAsync();
            Assert.Equal(Wire.RepAck, Assert.Single(await client.OptionAsync(Wire.OptStartTls)).Type);
            await client.UpgradeToTlsAsync(_server, clientCertificate);
            await client.GoAsync(NbdTestServer.Disk);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private static async Task AssertReadWriteAsync(RawNbdClient client)
    {
        var seed = Seeds.FromEnvironmentOrRandom();
        var data = new byte[8192];
        new Random(seed).NextBytes(data);
        Assert.Equal(0u, (await client.WriteAsync(4096, data)).Errno);
        Assert.Equal(data, (await client.ReadAsync(4096, (uint)data.Length)).Data);
        Assert.Empty(await client.DisconnectAsync());
    }

    private static X509Certificate2 CreateAuthority(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string subject, bool clientAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var usage = clientAuth ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1";
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), password: null);
    }

    private static X509Certificate2 CreateServerCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }
}
