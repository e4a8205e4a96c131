// In-process tests of the `dev` command lines: what serve-scratch and issue-client-cert turn their
// options into, and the NBD listener options built from them (TLS material required per mode).
using System.Net;
using Ironclad.Host.Commands;
using Ironclad.Host.Dev;
using Ironclad.Host.Server;
using Ironclad.Nbd.Server;

namespace Ironclad.Host.Tests;

public sealed class DevCommandTests
{
    [Fact]
    public void Serve_scratch_defaults_are_xts_plain_nbd_a_temporary_directory_and_the_server_s_queue_depth()
    {
        var command = new ServeScratchCommand();
        var settings = command.ToSettings(command.Parse(["--size-gb", "2", "--nbd-port", "10811"]));

        Assert.Equal(2L << 30, settings.SizeBytes);
        Assert.Equal(10811, settings.NbdPort);
        Assert.Equal(ScratchCipher.Xts, settings.Cipher);
        Assert.Null(settings.DataDirectory);
        Assert.Equal(NbdTls.Off, settings.Tls);
        Assert.Null(settings.QueueDepthMax);
    }

    [Fact]
    public void Serve_scratch_options_are_parsed_into_settings()
    {
        var command = new ServeScratchCommand();
        var settings = command.ToSettings(command.Parse(
            ["--size-gb", "32768", "--nbd-port", "0", "--cipher", "none", "--data", "rel/dir", "--tls", "mutual", "--queue-depth", "32"]));

        Assert.Equal(32L << 40, settings.SizeBytes);
        Assert.Equal(ScratchCipher.None, settings.Cipher);
        Assert.Equal(Path.GetFullPath("rel/dir"), settings.DataDirectory);
        Assert.Equal(NbdTls.Mutual, settings.Tls);
        Assert.Equal(32, settings.QueueDepthMax);
    }

    [Fact]
    public void Issue_client_cert_options_are_parsed_into_settings()
    {
        var command = new IssueClientCertCommand();
        var settings = command.ToSettings(command.Parse(["--name", "alice", "--out", "certs"]));

        Assert.Equal(Path.GetFullPath(".ironclad"), settings.DataDirectory);
        Assert.Equal("alice", settings.Name);
        Assert.Equal(Path.GetFullPath("certs"), settings.OutputDirectory);
        Assert.False(settings.Force);
    }

    [Fact]
    public void Listener_options_carry_exactly_the_tls_material_each_mode_needs()
    {
        using var temporary = new Ironclad.Testing.TempDirectory("ironclad-dev-command");
        using var material = Tls.TlsMaterial.Prepare(
            temporary.Combine("tls"), IPAddress.Loopback, TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var endPoint = new IPEndPoint(IPAddress.Loopback, 0);

        var off = NbdListener.CreateOptions(endPoint, NbdTls.Off, material.ServerCertificate, material.CaCertificate);
        var required = NbdListener.CreateOptions(endPoint, NbdTls.Required, material.ServerCertificate, material.CaCertificate, queueDepthMax: 7);
        var mutual = NbdListener.CreateOptions(endPoint, NbdTls.Mutual, material.ServerCertificate, material.CaCertificate);

        Assert.Equal((NbdTlsMode.Off, null, null), (off.TlsMode, off.ServerCertificate, off.ClientCertificateAuthority));
        // Required asks for an optional client certificate (a VM's), validated against the same CA.
        Assert.Equal((NbdTlsMode.Required, material.ServerCertificate, material.CaCertificate), (required.TlsMode, required.ServerCertificate, required.ClientCertificateAuthority));
        Assert.Equal(7, required.QueueDepthMax);
        Assert.Equal(NbdTlsMode.RequiredWithClientCertificate, mutual.TlsMode);
        Assert.Same(material.CaCertificate, mutual.ClientCertificateAuthority);
        Assert.False(material.CaCertificate.HasPrivateKey);
        Assert.Throws<ArgumentException>(() => NbdListener.CreateOptions(endPoint, NbdTls.Required, null, null));
        Assert.Throws<ArgumentException>(() => NbdListener.CreateOptions(endPoint, NbdTls.Mutual, material.ServerCertificate, null));
    }
}
