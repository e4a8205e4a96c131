// The identity-related `server` options parsed in process: --vault-ports FIRST-LAST,
// --token-lifetime and --token-clock-skew in seconds; defaults and refusals.
using Ironclad.Host.Commands;

namespace Ironclad.Host.Tests;

public sealed class IdentityServerOptionsTests
{
    [Fact]
    public void Defaults_are_ports_20000_to_20099_one_hour_tokens_and_five_minutes_skew()
    {
        var command = new ServerCommand();
        var settings = command.ToSettings(command.Parse([]));
        Assert.Equal("20000-20099", settings.VaultPortRange.ToString());
        Assert.Equal(100, settings.VaultPortRange.Count);
        Assert.Equal(TimeSpan.FromSeconds(3600), settings.AccessTokenLifetime);
        Assert.Equal(TimeSpan.FromSeconds(300), settings.AccessTokenClockSkew);
    }

    [Fact]
    public void Options_are_parsed_into_settings()
    {
        var command = new ServerCommand();
        var settings = command.ToSettings(command.Parse(["--vault-ports", "30000-30000", "--token-lifetime", "2", "--token-clock-skew", "0"]));
        Assert.Equal(30000, settings.VaultPortRange.First);
        Assert.Equal(30000, settings.VaultPortRange.Last);
        Assert.Equal(TimeSpan.FromSeconds(2), settings.AccessTokenLifetime);
        Assert.Equal(TimeSpan.Zero, settings.AccessTokenClockSkew);
    }

    [Theory]
    [InlineData("--vault-ports", "20099-20000")]
    [InlineData("--vault-ports", "0-10")]
    [InlineData("--vault-ports", "20000-70000")]
    [InlineData("--vault-ports", "20000")]
    [InlineData("--vault-ports", "a-b")]
    [InlineData("--token-lifetime", "0")]
    [InlineData("--token-lifetime", "-1")]
    [InlineData("--token-lifetime", "soon")]
    [InlineData("--token-clock-skew", "-5")]
    public void Malformed_values_are_parse_errors_naming_the_option(string option, string value)
    {
        var command = new ServerCommand();
        var result = command.Parse([option, value]);
        var error = Assert.Single(result.Errors);
        Assert.Contains(option, error.Message, StringComparison.Ordinal);
    }
}
