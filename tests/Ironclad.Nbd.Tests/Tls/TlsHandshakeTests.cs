// FORCEDTLS (proto.md "TLS support"): before STARTTLS every option but STARTTLS and ABORT is
// answered NBD_REP_ERR_TLS_REQD and EXPORT_NAME ends the session; after it, everything runs over TLS.
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Ironclad.Nbd.Server;
using Ironclad.Nbd.Tests.Support;
using Ironclad.Testing;

namespace Ironclad.Nbd.Tests.Tls;

public sealed class TlsHandshakeTests : IDisposable
{
    private readonly X509Certificate2 _certificate = CreateCertificate();

    public void Dispose() => _certificate.Dispose();

    [Theory]
    [InlineData(Wire.OptList)]
    [InlineData(Wire.OptGo)]
    [InlineData(Wire.OptStructuredReply)]
    [InlineData(0x4242u)]
    public async Task Before_starttls_options_are_answered_tls_required(uint option)
    {
        await using var server = StartTlsServer();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        var data = option == Wire.OptGo ? RawNbdClient.InfoRequest(NbdTestServer.Disk) : [];
        Assert.Equal(Wire.RepErrTlsRequired, Assert.Single(await client.OptionAsync(option, data)).Type);
    }

    [Fact]
    public async Task Export_name_before_starttls_ends_the_session()
    {
        await using var server = StartTlsServer();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        await client.SendOptionAsync(Wire.OptExportName, Encoding.UTF8.GetBytes(NbdTestServer.Disk));

        Assert.Empty(await client.WaitForCloseAsync());
        Assert.Equal(0, server.Catalog.OpenHandles);
    }

    [Fact]
    public async Task After_starttls_the_whole_session_runs_over_tls()
    {
        await using var server = StartTlsServer();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();

        Assert.Equal(Wire.RepAck, Assert.Single(await client.OptionAsync(Wire.OptStartTls)).Type);
        await client.UpgradeToTlsAsync(_certificate);

        Assert.Equal(Wire.RepErrInvalid, Assert.Single(await client.OptionAsync(Wire.OptStartTls)).Type); // already active
        await client.OptionAsync(Wire.OptStructuredReply);
        await client.GoAsync(NbdTestServer.Disk);
        var data = new byte[100_000];
        new Random(Seeds.FromEnvironmentOrRandom()).NextBytes(data);
        Assert.Equal(0u, (await client.WriteAsync(4096, data)).Errno);
        Assert.Equal(data, (await client.ReadAsync(4096, (uint)data.Length)).Data);
        Assert.Empty(await client.DisconnectAsync());
    }

    [Fact]
    public async Task A_failed_tls_handshake_closes_the_connection()
    {
        await using var server = StartTlsServer();
        await using var client = await server.ConnectAsync();
        await client.StartHandshakeAsync();
        Assert.Equal(Wire.RepAck, Assert.Single(await client.OptionAsync(Wire.OptStartTls)).Type);

        await client.SendAsync("this is not a TLS ClientHello, not at all"u8.ToArray());

        await client.WaitForCloseAsync();
        await server.WaitForNoConnectionsAsync();
    }

    private NbdTestServer StartTlsServer() =>
        NbdTestServer.Start(o => o with { TlsMode = NbdTlsMode.Required, ServerCertificate = _certificate });

    private static X509Certificate2 CreateCertificate()
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
