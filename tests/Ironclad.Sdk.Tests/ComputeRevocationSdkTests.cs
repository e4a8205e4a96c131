// Revocation through the vault (tests/sdk-js/compute-revocation.mjs): disabling the set's key refuses
// the open Read SAS, a new grantAccess and a new disk, each with an error naming the key; re-enabling
// restores use with the data intact; removing the set's access policy refuses again; adding it back
// restores; deleting the set's role assignment on an RBAC vault refuses too. The latency from the
// vault call to the first refused SAS read (polled every 20 ms) is printed and must be within about a
// second (the design's headline: the cloud takes about an hour).
using System.Globalization;
using System.Text.Json;
using Ironclad.Testing;

namespace Ironclad.Sdk.Tests;

public sealed class ComputeRevocationSdkTests : IAsyncLifetime
{
    /// <summary>The design aims at about a second from the vault call to refusal.</summary>
    private const double MaximumRefusalMilliseconds = 2000;

    private readonly SdkServer _server = new() { ExtraArguments = ["--vault-ports", "25460-25479"] };

    public ValueTask InitializeAsync() => _server.InitializeAsync();

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Disabling_the_key_or_removing_the_policy_refuses_use_within_a_second_and_restoring_it_brings_the_data_back()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var seed = Seeds.FromEnvironmentOrRandom();
        var output = await ComputeSdkSupport.RunAsync(_server, "compute-revocation.mjs", seed,
            new Dictionary<string, string?> { ["IRONCLAD_RG"] = "rg-revocation", ["IRONCLAD_PREFIX"] = "rev" }, cancellationToken);
        var keyName = output.GetProperty("key").GetProperty("name").GetString()!;
        var principal = output.GetProperty("principalId").GetString()!;

        var disable = Latency(output, "disable");
        var policy = Latency(output, "policyRemoved");
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"revocation latency: key disabled {disable.FromCall} ms from the call ({disable.FromAnswer} ms from its answer); "
            + $"policy removed {policy.FromCall} ms ({policy.FromAnswer} ms)"));

        foreach (var (what, name) in new[] { ("grantAccess with the policy removed", "policyGrant"), ("new disk with the policy removed", "policyNewDisk") })
        {
            var message = Refusal(output, name, what);
            ComputeSdkSupport.AssertNames(what, message, keyName, principal);
            ComputeSdkSupport.AssertMentions(what, message, @"\bget\b|wrapkey|unwrapkey|permission|access policy");
        }

        var role = Latency(output, "roleRemoved");
        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"revocation latency: role assignment deleted {role.FromCall} ms from the call ({role.FromAnswer} ms from its answer)"));
        var roleMessage = Refusal(output, "roleGrant", "grantAccess with the role removed");
        ComputeSdkSupport.AssertNames("grantAccess with the role removed", roleMessage, output.GetProperty("rbacKeyName").GetString()!);
        ComputeSdkSupport.AssertMentions("grantAccess with the role removed", roleMessage, @"unwrapkey|Crypto Service Encryption User|role");

        Assert.True(output.GetProperty("intactAfterEnable").GetInt32() > 0);
        Assert.True(output.GetProperty("intactAfterPolicy").GetInt32() > 0);
        Assert.True(output.GetProperty("intactAfterRole").GetInt32() > 0);
        Assert.InRange(disable.FromCall, 0, MaximumRefusalMilliseconds);
        Assert.InRange(policy.FromCall, 0, MaximumRefusalMilliseconds);
        Assert.InRange(role.FromCall, 0, MaximumRefusalMilliseconds);

        // Last, so that the checks above report even when one of these fails.
        foreach (var (what, name) in new[] { ("grantAccess with the key disabled", "disabledGrant"), ("new disk with the key disabled", "disabledNewDisk") })
        {
            var message = Refusal(output, name, what);
            ComputeSdkSupport.AssertNames(what, message, keyName, "disabled");
        }
    }

    private static string Refusal(JsonElement output, string name, string what)
    {
        var result = output.GetProperty(name);
        Assert.False(result.TryGetProperty("succeeded", out _), $"{what}: expected a refusal, but it succeeded");
        Assert.InRange(result.GetProperty("statusCode").GetInt32(), 400, 499);
        return result.GetProperty("message").GetString()!;
    }

    private static (double FromCall, double FromAnswer) Latency(JsonElement output, string name)
    {
        var measured = output.GetProperty(name);
        Assert.True(measured.GetProperty("refused").GetBoolean(), $"{name}: the open SAS URL was never refused after the vault call: {measured}");
        var status = measured.GetProperty("status").GetInt32();
        Assert.True(status is >= 400 and < 500, $"{name}: the SAS read was refused with {status}: {measured}");
        return (measured.GetProperty("fromCallMs").GetDouble(), measured.GetProperty("fromAnswerMs").GetDouble());
    }
}
