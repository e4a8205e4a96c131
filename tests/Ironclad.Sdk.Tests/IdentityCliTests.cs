// `ironclad login` and `ironclad ad sp ...` through the real executable against the real server:
// the profile is written 0600 under --profile, the administrator manages service principals, a
// created principal can log in with its secret, and failures print the service's code with exit
// codes 1 (error) and 3 (not found).
using System.Text.Json;
using Ironclad.Testing;
using Ironclad.Testing.Processes;

namespace Ironclad.Sdk.Tests;

public sealed class IdentityCliTests(SdkServer server) : IClassFixture<SdkServer>, IDisposable
{
    private readonly TempDirectory _profiles = new("ironclad-cli-profiles");

    [Fact]
    public async Task Login_from_endpoints_then_create_reset_and_delete_a_service_principal()
    {
        var profile = _profiles.Combine("admin", "profile.json");
        var (loginCode, login, _) = await RunAsync(["login", "--data", server.DataDirectory, "--profile", profile]);
        Assert.Equal(0, loginCode);
        Assert.Equal(server.TenantId, JsonDocument.Parse(login).RootElement.GetProperty("tenantId").GetString());
        var profileFile = profile;
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(profileFile));
        }

        var (createCode, created, _) = await RunAsync(["ad", "sp", "create", "--display-name", "cli-app", "--profile", profile]);
        Assert.Equal(0, createCode);
        var createdJson = JsonDocument.Parse(created).RootElement;
        var appId = createdJson.GetProperty("appId").GetString()!;
        var password = createdJson.GetProperty("password").GetString()!;

        var (_, table, _) = await RunAsync(["ad", "sp", "list", "--profile", profile, "--output", "table"]);
        Assert.Contains("cli-app", table, StringComparison.Ordinal);
        Assert.Contains(appId, table, StringComparison.Ordinal);

        // The new principal logs in with explicit credentials; it may not manage the directory.
        var appProfile = _profiles.Combine("app", "profile.json");
        var (appLogin, _, appLoginError) = await RunAsync(["login", "--tenant", server.TenantId, "--client-id", appId, "--client-secret", password,
            "--authority", server.BaseUrl, "--ca-cert", server.Endpoints.CaCertificate, "--profile", appProfile]);
        Assert.True(appLogin == 0, appLoginError);
        var (forbiddenCode, _, forbidden) = await RunAsync(["ad", "sp", "list", "--profile", appProfile]);
        Assert.Equal(1, forbiddenCode);
        Assert.Contains("AuthorizationFailed", forbidden, StringComparison.Ordinal);

        var (resetCode, reset, _) = await RunAsync(["ad", "sp", "credential", "reset", "--id", appId, "--profile", profile]);
        Assert.Equal(0, resetCode);
        Assert.NotEqual(password, JsonDocument.Parse(reset).RootElement.GetProperty("password").GetString());
        var (oldSecretCode, _, oldSecretError) = await RunAsync(["login", "--tenant", server.TenantId, "--client-id", appId, "--client-secret", password,
            "--authority", server.BaseUrl, "--ca-cert", server.Endpoints.CaCertificate, "--profile", appProfile]);
        Assert.Equal(1, oldSecretCode);
        Assert.Contains("invalid_client", oldSecretError, StringComparison.Ordinal);
        Assert.DoesNotContain(password, oldSecretError, StringComparison.Ordinal);

        Assert.Equal(0, (await RunAsync(["ad", "sp", "delete", "--id", appId, "--profile", profile])).ExitCode);
        var (showCode, _, notFound) = await RunAsync(["ad", "sp", "show", "--id", appId, "--profile", profile]);
        Assert.Equal(3, showCode);
        Assert.Contains("ServicePrincipalNotFound", notFound, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commands_without_a_login_say_so()
    {
        var (code, _, error) = await RunAsync(["ad", "sp", "list", "--profile", _profiles.Combine("nobody", "profile.json")]);
        Assert.Equal(1, code);
        Assert.Contains("ironclad login", error, StringComparison.Ordinal);
    }

    public void Dispose() => _profiles.Dispose();

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(IEnumerable<string> arguments)
    {
        await using var process = IroncladProcess.Start(arguments);
        var exitCode = await process.WaitForExitAsync(cancellationToken: TestContext.Current.CancellationToken);
        return (exitCode, process.StandardOutput, process.StandardError);
    }
}
