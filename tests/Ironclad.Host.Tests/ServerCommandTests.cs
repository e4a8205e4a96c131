// In-process tests of the `server` command line and of the pieces that need no process: defaults,
// the URL published in endpoints.json, and the data directory lock.
using System.Net;
using Ironclad.Host.Commands;
using Ironclad.Host.Data;
using Ironclad.Host.Logging;
using Ironclad.Host.Server;
using Ironclad.Testing;

namespace Ironclad.Host.Tests;

public sealed class ServerCommandTests
{
    [Fact]
    public void Defaults_are_dot_ironclad_port_8443_loopback_and_text_logs()
    {
        var root = IroncladCommandLine.Create();
        var command = root.Subcommands.OfType<ServerCommand>().Single();
        var settings = command.ToSettings(root.Parse(["server"]));

        Assert.Equal(Path.GetFullPath(".ironclad"), settings.DataDirectory);
        Assert.Equal(8443, settings.Port);
        Assert.Equal(IPAddress.Loopback, settings.BindAddress);
        Assert.Equal(LogFormat.Text, settings.LogFormat);
        Assert.Equal(10809, settings.NbdPort);
        Assert.Equal(NbdTls.Required, settings.NbdTls);
    }

    [Theory]
    [InlineData("required", "Required")]
    [InlineData("mutual", "Mutual")]
    [InlineData("off", "Off")]
    public void Nbd_options_are_parsed_into_settings(string tls, string expectedName)
    {
        var expected = Enum.Parse<NbdTls>(expectedName);
        var command = new ServerCommand();
        var settings = command.ToSettings(command.Parse(["--nbd-port", "0", "--nbd-tls", tls]));

        Assert.Equal(0, settings.NbdPort);
        Assert.Equal(expected, settings.NbdTls);
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.0.0.2", true)]
    [InlineData("::1", true)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::", false)]
    [InlineData("10.1.2.3", false)]
    public void Plain_nbd_is_accepted_only_with_a_loopback_bind_address(string bindAddress, bool accepted)
    {
        var result = IroncladCommandLine.Create().Parse(["server", "--bind", bindAddress, "--nbd-tls", "off"]);

        Assert.Equal(accepted, result.Errors.Count == 0);
        Assert.Empty(IroncladCommandLine.Create().Parse(["server", "--bind", bindAddress, "--nbd-tls", "required"]).Errors);
    }

    [Fact]
    public void A_malformed_bind_address_with_plain_nbd_reports_the_address_only()
    {
        var result = IroncladCommandLine.Create().Parse(["server", "--bind", "nowhere", "--nbd-tls", "off"]);

        Assert.Contains("'nowhere'", Assert.Single(result.Errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1", 10809, "127.0.0.1:10809")]
    [InlineData("0.0.0.0", 10809, "127.0.0.1:10809")]
    [InlineData("::", 1234, "127.0.0.1:1234")]
    [InlineData("::1", 1234, "[::1]:1234")]
    [InlineData("192.0.2.10", 10809, "192.0.2.10:10809")]
    public void Published_nbd_address_is_reachable_for_the_bind_address(string bindAddress, int port, string expected) =>
        Assert.Equal(expected, NbdListener.PublishedAddress(IPAddress.Parse(bindAddress), port));

    [Fact]
    public void Options_are_parsed_into_settings()
    {
        var command = new ServerCommand();
        var settings = command.ToSettings(command.Parse(["--data", "/srv/ironclad", "--port", "0", "--bind", "::1", "--log-format", "json"]));

        Assert.Equal("/srv/ironclad", settings.DataDirectory);
        Assert.Equal(0, settings.Port);
        Assert.Equal(IPAddress.IPv6Loopback, settings.BindAddress);
        Assert.Equal(LogFormat.Json, settings.LogFormat);
    }

    [Theory]
    [InlineData("--port", "65536")]
    [InlineData("--port", "8443x")]
    [InlineData("--bind", "localhost")]
    [InlineData("--bind", "10.1")]
    [InlineData("--bind", "fe80::1%eth0")]
    public void Malformed_values_are_parse_errors(string option, string value)
    {
        var result = IroncladCommandLine.Create().Parse(["server", option, value]);

        Assert.NotEmpty(result.Errors);
    }

    [Theory]
    [InlineData("127.0.0.1", 8443, "https://127.0.0.1:8443")]
    [InlineData("0.0.0.0", 8443, "https://127.0.0.1:8443")]
    [InlineData("::", 1234, "https://127.0.0.1:1234")]
    [InlineData("::1", 1234, "https://[::1]:1234")]
    [InlineData("192.0.2.10", 443, "https://192.0.2.10:443")]
    public void Published_url_is_reachable_for_the_bind_address(string bindAddress, int port, string expected) =>
        Assert.Equal(expected, ServerRunner.BaseUrl(IPAddress.Parse(bindAddress), port));

    [Fact]
    public void Locked_data_directory_cannot_be_opened_twice()
    {
        using var temporary = new TempDirectory("ironclad-host-tests");
        using var first = DataDirectory.Open(temporary.Combine("data"));

        var failure = Assert.Throws<StartupException>(() => DataDirectory.Open(temporary.Combine("data")));

        Assert.Contains("in use by another ironclad server", failure.Message, StringComparison.Ordinal);
        Assert.True(first.Created);
    }
}
