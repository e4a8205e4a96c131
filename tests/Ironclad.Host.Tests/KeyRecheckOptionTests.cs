// The `server` option of the revocation monitor parsed in process: --key-recheck-interval in seconds
// (default 300, at least 1); a malformed value is a parse error naming the option.
using Ironclad.Host.Commands;

namespace Ironclad.Host.Tests;

public sealed class KeyRecheckOptionTests
{
    [Fact]
    public void The_default_is_five_minutes_and_the_option_sets_it()
    {
        var command = new ServerCommand();
        Assert.Equal(TimeSpan.FromSeconds(300), command.ToSettings(command.Parse([])).KeyRecheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), command.ToSettings(command.Parse(["--key-recheck-interval", "2"])).KeyRecheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(60), command.ToSettings(command.Parse(["--key-recheck-interval", "60s"])).KeyRecheckInterval);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("often")]
    public void Malformed_values_are_parse_errors_naming_the_option(string value)
    {
        var command = new ServerCommand();
        var error = Assert.Single(command.Parse(["--key-recheck-interval", value]).Errors);
        Assert.Contains("--key-recheck-interval", error.Message, StringComparison.Ordinal);
    }
}
