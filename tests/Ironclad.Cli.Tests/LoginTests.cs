// `ironclad login` against a real server: the bootstrap administrator's credentials from
// endpoints.json become a 0600 profile whose secret is never printed; wrong credentials are refused
// with the token endpoint's OAuth2 error and leave no profile; commands without a login say so.
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Cli.Tests;

public sealed class LoginTests
{
    [Fact]
    public async Task Login_from_a_data_directory_saves_an_owner_only_profile_and_never_prints_the_secret()
    {
        using var temporary = new TempDirectory("ironclad-cli");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), cancellationToken: TestContext.Current.CancellationToken);
        var cli = new Cli(temporary.Combine("home", "profile.json"));

        var result = (await cli.RunAsync(["login", "--data", temporary.Combine("data")])).Succeeded();

        var secret = server.Endpoints.Json.GetProperty("clientSecret").GetString()!;
        Assert.DoesNotContain(secret, result.StandardOutput + result.StandardError, StringComparison.Ordinal);
        Assert.Equal(server.Endpoints.Json.GetProperty("tenantId").GetString(), result.Json()["tenantId"]!.GetValue<string>());
        Assert.Equal(server.Endpoints.Json.GetProperty("subscriptionId").GetString(), result.Json()["subscriptionId"]!.GetValue<string>());
        Assert.True(OperatingSystem.IsWindows() || File.GetUnixFileMode(cli.ProfilePath) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), "the profile holds a secret: mode 0600");
    }

    [Fact]
    public async Task Login_with_a_wrong_secret_is_refused_by_the_token_endpoint_and_saves_nothing()
    {
        using var temporary = new TempDirectory("ironclad-cli");
        await using var server = await IroncladServer.StartAsync(temporary.Combine("data"), cancellationToken: TestContext.Current.CancellationToken);
        var cli = new Cli(temporary.Combine("home", "profile.json"));
        var json = server.Endpoints.Json;

        var result = await cli.RunAsync(
        [
            "login", "--url", server.Endpoints.Url.ToString(), "--tenant", json.GetProperty("tenantId").GetString()!,
            "--subscription", json.GetProperty("subscriptionId").GetString()!, "--client-id", json.GetProperty("clientId").GetString()!,
            "--client-secret", "not-the-secret-" + Guid.NewGuid(), "--ca-cert", server.Endpoints.CaCertificate,
        ]);

        result.FailedWith("invalid_client");
        Assert.DoesNotContain("not-the-secret-", result.StandardOutput + result.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(cli.ProfilePath));
    }

    [Fact]
    public async Task A_command_without_a_login_says_to_log_in()
    {
        using var temporary = new TempDirectory("ironclad-cli");
        var cli = new Cli(temporary.Combine("nobody", "profile.json"));

        (await cli.RunAsync("group", "list")).FailedWith("NotLoggedIn");
    }

    [Fact]
    public async Task Login_is_refused_when_the_server_certificate_is_not_from_the_given_ca()
    {
        using var temporary = new TempDirectory("ironclad-cli");
        await using var first = await IroncladServer.StartAsync(temporary.Combine("first"), cancellationToken: TestContext.Current.CancellationToken);
        await using var second = await IroncladServer.StartAsync(temporary.Combine("second"), cancellationToken: TestContext.Current.CancellationToken);
        var cli = new Cli(temporary.Combine("home", "profile.json"));
        var json = first.Endpoints.Json;

        // The first server's credentials, sent to the second server's URL while trusting only the first's CA.
        var result = await cli.RunAsync(
        [
            "login", "--url", second.Endpoints.Url.ToString(), "--tenant", json.GetProperty("tenantId").GetString()!,
            "--subscription", json.GetProperty("subscriptionId").GetString()!, "--client-id", json.GetProperty("clientId").GetString()!,
            "--client-secret", json.GetProperty("clientSecret").GetString()!, "--ca-cert", first.Endpoints.CaCertificate,
        ]);

        result.FailedWith("ConnectionFailed");
        Assert.Contains("not trusted", result.StandardError, StringComparison.Ordinal);
        Assert.False(File.Exists(cli.ProfilePath));
    }
}
