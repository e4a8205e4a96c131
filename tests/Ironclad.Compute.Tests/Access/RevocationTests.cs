// Revocation against a real server: a customer-key disk open through a SAS URL stops serving as soon
// as the vault admin disables the key or removes the set identity's access policy (measured from the
// vault call returning to the first refused read), new grants are refused with an error naming the
// key and what is missing, and restoring access gives a working grant over intact data.
using System.Diagnostics;
using System.Globalization;
using Ironclad.Compute.Tests.EncryptionSets;
using Ironclad.Testing;

namespace Ironclad.Compute.Tests.Access;

public sealed class RevocationServer : IAsyncLifetime
{
    public SetsServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() =>
        Server = await SetsServer.StartAsync(25310, ["--key-recheck-interval", "2"], TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

public sealed class RevocationTests(RevocationServer fixture) : IClassFixture<RevocationServer>, IDisposable
{
    private const long UploadSize = (20L << 20) + 512;

    /// <summary>The refusal must follow the vault call within this (the issue asks for about a second; CI machines are slow).</summary>
    private static readonly TimeSpan RefusalDeadline = TimeSpan.FromSeconds(2);

    private readonly SetsServer _server = fixture.Server;
    private readonly SasClient _client = new(fixture.Server);

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task Disabling_the_key_or_removing_access_revokes_and_restoring_it_restores_the_data()
    {
        var ct = TestContext.Current.CancellationToken;
        var random = new Random(Seeds.FromEnvironmentOrRandom());
        var (vaultId, vaultUri) = await _server.CreateVaultAsync("rv-kv", cancellationToken: ct);
        var kid = await _server.CreateKeyAsync(vaultUri, "rv-key", cancellationToken: ct);
        var set = await _server.ArmOkAsync(HttpMethod.Put, _server.SetPath("rv-des"), SetsServer.SetBody(kid, vaultId), ct);
        var principal = set.GetProperty("identity").GetProperty("principalId").GetString()!;
        await _server.GrantPolicyAsync("rv-kv", principal, cancellationToken: ct);

        // Known data on a customer-key disk, written through an upload SAS.
        await _client.CreateUploadDiskAsync("rv-disk", UploadSize, _server.SetId("rv-des"), ct);
        var data = new byte[1 << 20];
        random.NextBytes(data);
        var upload = await _client.GrantOkAsync("rv-disk", "Write", cancellationToken: ct);
        Assert.Equal(201, (await _client.PutPagesAsync(upload, 4 << 20, data, ct)).Status);
        await _client.EndAsync("rv-disk", ct);

        // 1. Disable the key: the open SAS is refused at once, the disk is back at rest, a new grant names the key.
        var sas = await ReadableGrantAsync(data, ct);
        var disabledAfter = await MeasureRefusalAsync(sas, () => _server.SetKeyEnabledAsync(kid, false, ct), "disable key", ct);
        await WaitForStateAsync("Unattached", ct);
        var refused = await _client.GrantAsync("rv-disk", "Read", 600, ct);
        Assert.True(refused.Status == 409, refused.ToString());
        Assert.Equal("KeyDisabled", refused.ErrorCode);
        Assert.Contains("rv-key", refused.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("disabled", refused.ErrorMessage, StringComparison.OrdinalIgnoreCase);

        // 2. Enable it again: a new grant reads the same data.
        await _server.SetKeyEnabledAsync(kid, true, ct);
        sas = await ReadableGrantAsync(data, ct);

        // 3. Remove the set identity's access policy: refused again; the new-grant error names what is missing.
        var removedAfter = await MeasureRefusalAsync(sas, () => _server.RemovePolicyAsync("rv-kv", principal, ct), "remove access policy", ct);
        await WaitForStateAsync("Unattached", ct);
        refused = await _client.GrantAsync("rv-disk", "Read", 600, ct);
        Assert.True(refused.Status == 403, refused.ToString());
        Assert.Equal("KeyVaultAccessDenied", refused.ErrorCode);
        Assert.Contains(principal, refused.ErrorMessage, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("unwrapKey", refused.ErrorMessage, StringComparison.Ordinal);

        // 4. Grant the policy again: the data is intact.
        await _server.GrantPolicyAsync("rv-kv", principal, cancellationToken: ct);
        await ReadableGrantAsync(data, ct);
        await _client.EndAsync("rv-disk", ct);

        var line = string.Create(CultureInfo.InvariantCulture,
            $"revocation latency (vault call returned → first refused SAS read): key disabled {disabledAfter.TotalMilliseconds:0} ms, access policy removed {removedAfter.TotalMilliseconds:0} ms");
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        Console.WriteLine(line);
        var output = _server.Server.Process.CapturedOutput();
        Assert.Contains("Revoked access to volume", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_the_sets_user_assigned_identity_revokes()
    {
        var ct = TestContext.Current.CancellationToken;
        var (vaultId, vaultUri) = await _server.CreateVaultAsync("rvid-kv", cancellationToken: ct);
        var kid = await _server.CreateKeyAsync(vaultUri, "rvid-key", cancellationToken: ct);
        var (identityId, identityPrincipal, _) = await _server.CreateUserAssignedIdentityAsync("rvid-identity", ct);
        await _server.GrantPolicyAsync("rvid-kv", identityPrincipal, cancellationToken: ct);
        await _server.ArmOkAsync(HttpMethod.Put, _server.SetPath("rvid-des"), SetsServer.SetBody(kid, vaultId, SetsServer.UserAssigned(identityId)), ct);
        await _client.CreateEmptyDiskAsync("rvid-disk", 1, _server.SetId("rvid-des"), ct);
        var sas = await _client.GrantOkAsync("rvid-disk", "Read", cancellationToken: ct);
        Assert.Equal(206, (await _client.GetAsync(sas, 0, 511, cancellationToken: ct)).Status);

        var after = await MeasureRefusalAsync(sas,
            () => _server.ArmOkAsync(HttpMethod.Delete, $"{identityId}?api-version=2023-01-31", cancellationToken: ct), "delete identity", ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"identity deleted → refused after {after.TotalMilliseconds:0} ms");
        await SetsServer.WaitForAsync("diskState Unattached", async () =>
            await _client.DiskStateAsync("rvid-disk", ct) == "Unattached" ? "ok" : null, TimeSpan.FromSeconds(5), ct);
        var refused = await _client.GrantAsync("rvid-disk", "Read", 600, ct);
        Assert.True(refused.Status is 403 or 409, refused.ToString());
    }

    /// <summary>A Read grant on rv-disk whose data at 4 MiB is <paramref name="data"/>; returns the URL.</summary>
    private async Task<Uri> ReadableGrantAsync(byte[] data, CancellationToken ct)
    {
        var sas = await _client.GrantOkAsync("rv-disk", "Read", cancellationToken: ct);
        Assert.Equal("ActiveSAS", await _client.DiskStateAsync("rv-disk", ct));
        var read = await _client.GetAsync(sas, 4 << 20, (4 << 20) + data.Length - 1, cancellationToken: ct);
        Assert.Equal(206, read.Status);
        Assert.True(data.AsSpan().SequenceEqual(read.Body), "the disk's data changed");
        return sas;
    }

    /// <summary>Runs the vault change, then reads through the SAS until refused; the time from the change returning to the refusal.</summary>
    private async Task<TimeSpan> MeasureRefusalAsync(Uri sas, Func<Task> change, string what, CancellationToken ct)
    {
        await change();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var response = await _client.GetAsync(sas, 4 << 20, (4 << 20) + 4095, cancellationToken: ct);
            if (response.Status != 206)
            {
                var elapsed = clock.Elapsed;
                Assert.True(response.Status == 403, $"after '{what}' the SAS answered {response}");
                Assert.Equal("AuthenticationFailed", response.ErrorCode);
                Assert.Contains("revoked", response.Text, StringComparison.Ordinal);
                Assert.True(elapsed < RefusalDeadline, $"after '{what}' the SAS was refused only after {elapsed.TotalMilliseconds:0} ms");
                return elapsed;
            }

            Assert.True(clock.Elapsed < RefusalDeadline, $"after '{what}' the SAS still reads after {clock.Elapsed.TotalMilliseconds:0} ms");
            await Task.Delay(5, ct);
        }
    }

    private async Task WaitForStateAsync(string state, CancellationToken ct) =>
        await SetsServer.WaitForAsync($"rv-disk {state}", async () => await _client.DiskStateAsync("rv-disk", ct) == state ? "ok" : null, TimeSpan.FromSeconds(5), ct);
}
