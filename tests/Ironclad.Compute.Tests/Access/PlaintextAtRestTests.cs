// Nothing written through a SAS URL is plaintext at rest: known data is uploaded to a platform-key and
// a customer-key disk through Put Page, read back, then the server is stopped (the store's files are
// locked while it runs) and every file of its data directory is scanned for the data.
using Ironclad.Compute.Tests.EncryptionSets;
using Ironclad.Testing;

namespace Ironclad.Compute.Tests.Access;

public sealed class PlaintextAtRestTests
{
    private const long UploadSize = (20L << 20) + 512;

    [Fact]
    public async Task Data_written_through_sas_urls_is_not_plaintext_in_the_data_directory()
    {
        var ct = TestContext.Current.CancellationToken;
        var random = new Random(Seeds.FromEnvironmentOrRandom());
        await using var server = await SetsServer.StartAsync(25320, cancellationToken: ct);
        using var client = new SasClient(server);

        var (vaultId, vaultUri) = await server.CreateVaultAsync("pt-kv", cancellationToken: ct);
        var kid = await server.CreateKeyAsync(vaultUri, "pt-key", cancellationToken: ct);
        var set = await server.ArmOkAsync(HttpMethod.Put, server.SetPath("pt-des"), SetsServer.SetBody(kid, vaultId), ct);
        await server.GrantPolicyAsync("pt-kv", set.GetProperty("identity").GetProperty("principalId").GetString()!, cancellationToken: ct);

        var patterns = new List<byte[]>();
        foreach (var (disk, setId) in new[] { ("pt-platform", (string?)null), ("pt-customer", server.SetId("pt-des")) })
        {
            await client.CreateUploadDiskAsync(disk, UploadSize, setId, ct);
            var sas = await client.GrantOkAsync(disk, "Write", cancellationToken: ct);
            var data = new byte[256 << 10];
            random.NextBytes(data);
            Assert.Equal(201, (await client.PutPagesAsync(sas, 3 << 20, data, ct)).Status);
            var back = await client.GetAsync(sas, 3 << 20, (3 << 20) + data.Length - 1, cancellationToken: ct);
            Assert.True(data.AsSpan().SequenceEqual(back.Body), $"{disk}: read back differs");
            await client.EndAsync(disk, ct);
            for (var at = 0; at + 64 <= data.Length; at += 16 << 10)
            {
                patterns.Add(data[at..(at + 64)]);
            }
        }

        // Stopped only so the store's files can be read; how it exits is the shutdown tests' business.
        var exitCode = await server.Server.StopAsync(cancellationToken: ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"server exit code {exitCode}");
        var findings = PlaintextScanner.Scan(server.DataDirectory, patterns);
        Assert.True(findings.Count == 0, $"plaintext found: {string.Join(", ", findings)}");
    }
}
