// SAS access to disks against a real server, as a blob client would: an Upload disk written with Put
// Page and read back with ranged GETs, the VHD shape of the blob, refusals of expired, tampered and
// ended URLs in the blob service's XML envelope, diskState through the grant's life, no SAS token in
// the server's output (the plaintext scan after SAS writes is PlaintextAtRestTests).
using System.Globalization;
using System.Text;
using Ironclad.Compute.Access;
using Ironclad.Compute.Tests.EncryptionSets;
using Ironclad.Testing;

namespace Ironclad.Compute.Tests.Access;

public sealed class SasServer : IAsyncLifetime
{
    public SetsServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await SetsServer.StartAsync(25300, cancellationToken: TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}

public sealed class SasAccessTests(SasServer fixture) : IClassFixture<SasServer>, IDisposable
{
    private const long UploadSize = (20L << 20) + 512;
    private readonly SetsServer _server = fixture.Server;
    private readonly SasClient _client = new(fixture.Server);

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task Upload_with_page_puts_then_read_back_with_ranged_gets()
    {
        var ct = TestContext.Current.CancellationToken;
        var random = new Random(Seeds.FromEnvironmentOrRandom());
        await _client.CreateUploadDiskAsync("up1", UploadSize, cancellationToken: ct);
        Assert.Equal("ReadyToUpload", await _client.DiskStateAsync("up1", ct));

        var write = await _client.GrantOkAsync("up1", "Write", cancellationToken: ct);
        Assert.Equal("ActiveUpload", await _client.DiskStateAsync("up1", ct));
        Assert.StartsWith($"{_server.Server.Endpoints.Url.GetLeftPart(UriPartial.Authority)}/disk-data/", write.AbsoluteUri, StringComparison.Ordinal);
        Assert.Contains("sv=2018-03-28", write.Query, StringComparison.Ordinal);
        Assert.Contains("sr=b", write.Query, StringComparison.Ordinal);
        Assert.Contains("sig=", write.Query, StringComparison.Ordinal);

        // The upload blob is the VHD the client sends: uploadSizeBytes, footer included.
        var head = await _client.HeadAsync(write, ct);
        Assert.Equal(200, head.Status);
        Assert.Equal(UploadSize, head.ContentLength);
        Assert.Equal("PageBlob", head.BlobType);

        // A fixed VHD: data pages here and there, then the footer in the last 512 bytes.
        var image = new byte[UploadSize];
        var writes = new List<(long Offset, int Length)> { (0, 4096), (512, 1024), (7L << 20, 4 << 20), (UploadSize - 512 - 8192, 8192) };
        for (var i = 0; i < 6; i++)
        {
            writes.Add((random.NextInt64(0, (UploadSize - 512 - 65536) / 512) * 512, random.Next(1, 128) * 512));
        }

        foreach (var (offset, length) in writes)
        {
            var data = new byte[length];
            random.NextBytes(data);
            data.CopyTo(image, offset);
            var put = await _client.PutPagesAsync(write, offset, data, ct);
            Assert.True(put.Status == 201, $"Put Page at {offset}: {put}");
        }

        var footer = VhdFooter.Create(UploadSize - 512, Guid.NewGuid());
        footer.CopyTo(image, UploadSize - 512);
        Assert.Equal(201, (await _client.PutPagesAsync(write, UploadSize - 512, footer, ct)).Status);

        // Clear a range: it reads as zeros afterwards.
        Array.Clear(image, 1 << 20, 64 << 10);
        Assert.Equal(201, (await _client.ClearPagesAsync(write, 1 << 20, 64 << 10, ct)).Status);

        // A Write grant reads back too (sp=rw).
        var early = await _client.GetAsync(write, 0, 4095, cancellationToken: ct);
        Assert.Equal(206, early.Status);
        Assert.Equal(image.AsSpan(0, 4096).ToArray(), early.Body);

        await _client.EndAsync("up1", ct);
        Assert.Equal("Unattached", await _client.DiskStateAsync("up1", ct));
        var ended = await _client.GetAsync(write, 0, 511, cancellationToken: ct);
        Assert.Equal(403, ended.Status);
        Assert.Equal("AuthenticationFailed", ended.ErrorCode);
        Assert.Contains("<Code>AuthenticationFailed</Code>", ended.Text, StringComparison.Ordinal);

        var read = await _client.GrantOkAsync("up1", "Read", cancellationToken: ct);
        Assert.Equal("ActiveSAS", await _client.DiskStateAsync("up1", ct));
        var readHead = await _client.HeadAsync(read, ct);
        Assert.Equal(UploadSize, readHead.ContentLength); // the uploaded footer is the blob's; none is added
        foreach (var (offset, length) in writes.Append((1 << 20, 64 << 10)).Append((UploadSize - 512, 512)))
        {
            var msRange = offset % 1024 == 0;
            var got = await _client.GetAsync(read, offset, offset + length - 1, msRange, ct);
            Assert.True(got.Status == 206, $"GET {offset}+{length}: {got}");
            Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"bytes {offset}-{offset + length - 1}/{UploadSize}"), got.ContentRange);
            Assert.True(image.AsSpan((int)offset, length).SequenceEqual(got.Body), $"data at {offset}+{length} differs");
        }

        // The whole blob, streamed.
        var whole = await _client.GetAsync(read, cancellationToken: ct);
        Assert.Equal(200, whole.Status);
        Assert.Equal(UploadSize, whole.Body.LongLength);
        Assert.True(image.AsSpan().SequenceEqual(whole.Body), "the whole blob differs from what was uploaded");

        // A Read grant cannot write; a range past the end is refused.
        var denied = await _client.PutPagesAsync(read, 0, new byte[512], ct);
        Assert.Equal(403, denied.Status);
        Assert.Equal("AuthorizationPermissionMismatch", denied.ErrorCode);
        var past = await _client.GetAsync(read, UploadSize, UploadSize + 10, cancellationToken: ct);
        Assert.Equal(416, past.Status);
        Assert.Equal("InvalidRange", past.ErrorCode);

        await _client.EndAsync("up1", ct);
        Assert.Equal("Unattached", await _client.DiskStateAsync("up1", ct));
        Assert.Equal(403, (await _client.HeadAsync(read, ct)).Status);
    }

    [Fact]
    public async Task A_disk_reads_as_a_fixed_vhd_and_bad_page_writes_are_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await _client.CreateEmptyDiskAsync("empty1", 1, cancellationToken: ct);
        var read = await _client.GrantOkAsync("empty1", "Read", cancellationToken: ct);
        var head = await _client.HeadAsync(read, ct);
        Assert.Equal((1L << 30) + 512, head.ContentLength);
        var footer = await _client.GetAsync(read, 1L << 30, cancellationToken: ct);
        Assert.Equal(206, footer.Status);
        Assert.Equal(512, footer.Body.Length);
        Assert.Equal("conectix", Encoding.ASCII.GetString(footer.Body, 0, 8));
        var zeros = await _client.GetAsync(read, 0, 65535, cancellationToken: ct);
        Assert.All(zeros.Body, b => Assert.Equal(0, b));

        // Write access is only for Upload disks; a second Read grant is fine.
        var write = await _client.GrantAsync("empty1", "Write", 60, ct);
        Assert.Equal(409, write.Status);
        await _client.GrantOkAsync("empty1", "Read", cancellationToken: ct);
        await _client.EndAsync("empty1", ct);
        Assert.Equal("Unattached", await _client.DiskStateAsync("empty1", ct));

        await _client.CreateUploadDiskAsync("up2", UploadSize, cancellationToken: ct);
        var upload = await _client.GrantOkAsync("up2", "Write", cancellationToken: ct);
        var misaligned = await _client.PutPagesAsync(upload, 100, new byte[512], ct);
        Assert.Equal(416, misaligned.Status);
        Assert.Equal("InvalidPageRange", misaligned.ErrorCode);
        var tooBig = await _client.PutPagesAsync(upload, 0, new byte[(4 << 20) + 512], ct);
        Assert.Equal(413, tooBig.Status);
        var pastEnd = await _client.PutPagesAsync(upload, UploadSize, new byte[512], ct);
        Assert.Equal(416, pastEnd.Status);
        await _client.EndAsync("up2", ct);
    }

    [Fact]
    public async Task Tampered_and_expired_urls_are_refused_and_the_disk_returns_to_rest()
    {
        var ct = TestContext.Current.CancellationToken;
        await _client.CreateEmptyDiskAsync("tamper1", 1, cancellationToken: ct);
        var sas = await _client.GrantOkAsync("tamper1", "Read", cancellationToken: ct);
        Assert.Equal(206, (await _client.GetAsync(sas, 0, 511, cancellationToken: ct)).Status);

        var query = System.Web.HttpUtility.ParseQueryString(sas.Query);
        var sig = query["sig"]!;
        var flipped = (sig[0] == 'A' ? 'B' : 'A') + sig[1..];
        foreach (var tampered in new[]
        {
            sas.AbsoluteUri.Replace(Uri.EscapeDataString(sig), Uri.EscapeDataString(flipped), StringComparison.Ordinal),
            sas.AbsoluteUri.Replace("sp=r&", "sp=rw&", StringComparison.Ordinal),
            sas.AbsoluteUri.Replace("se=" + Uri.EscapeDataString(query["se"]!), "se=" + Uri.EscapeDataString("2099-01-01T00:00:00Z"), StringComparison.Ordinal),
            sas.AbsoluteUri.Replace("&sig=" + Uri.EscapeDataString(sig), "", StringComparison.Ordinal),
            sas.AbsoluteUri.Replace("/disk-data/", "/disk-data/0", StringComparison.Ordinal),
        })
        {
            Assert.NotEqual(sas.AbsoluteUri, tampered);
            var refused = await _client.GetAsync(new Uri(tampered), 0, 511, cancellationToken: ct);
            Assert.True(refused.Status is 403 or 404, $"{refused}");
            if (refused.Status == 403)
            {
                Assert.Equal("AuthenticationFailed", refused.ErrorCode);
                Assert.Contains("<AuthenticationErrorDetail>Signature did not match.</AuthenticationErrorDetail>", refused.Text, StringComparison.Ordinal);
            }
        }

        await _client.EndAsync("tamper1", ct);

        // A one-second grant: refused once it expires, and the disk goes back to Unattached by itself.
        await _client.CreateEmptyDiskAsync("expiry1", 1, cancellationToken: ct);
        var shortLived = await _client.GrantOkAsync("expiry1", "Read", seconds: 1, cancellationToken: ct);
        var expired = await SetsServer.WaitForAsync("the expired SAS to be refused", async () =>
        {
            var response = await _client.GetAsync(shortLived, 0, 511, cancellationToken: ct);
            return response.Status == 403 ? response : null;
        }, TimeSpan.FromSeconds(5), ct);
        Assert.Equal("AuthenticationFailed", expired.ErrorCode);
        Assert.Contains("Signature not valid in the specified time frame", expired.Text, StringComparison.Ordinal);
        await SetsServer.WaitForAsync("diskState Unattached after expiry", async () =>
            await _client.DiskStateAsync("expiry1", ct) == "Unattached" ? "ok" : null, TimeSpan.FromSeconds(5), ct);
    }

    [Fact]
    public async Task The_sas_token_never_reaches_the_servers_output()
    {
        var ct = TestContext.Current.CancellationToken;
        await _client.CreateUploadDiskAsync("logged1", UploadSize, cancellationToken: ct);
        var write = await _client.GrantOkAsync("logged1", "Write", cancellationToken: ct);
        Assert.Equal(201, (await _client.PutPagesAsync(write, 0, new byte[4096], ct)).Status);
        Assert.Equal(416, (await _client.PutPagesAsync(write, 3, new byte[512], ct)).Status);
        Assert.Equal(206, (await _client.GetAsync(write, 0, 100, cancellationToken: ct)).Status);
        var broken = new Uri(write.AbsoluteUri.Replace("sig=", "sig=x", StringComparison.Ordinal));
        Assert.Equal(403, (await _client.GetAsync(broken, 0, 100, cancellationToken: ct)).Status);
        await _client.EndAsync("logged1", ct);
        Assert.Equal(403, (await _client.GetAsync(write, 0, 100, cancellationToken: ct)).Status);

        var query = System.Web.HttpUtility.ParseQueryString(write.Query);
        var sig = query["sig"]!;
        var grantId = write.Segments[2].TrimEnd('/');
        var output = _server.Server.Process.CapturedOutput();
        Assert.Contains("Granted Write access to", output, StringComparison.Ordinal); // the log is captured at all
        foreach (var secret in new[] { sig, Uri.EscapeDataString(sig), grantId, write.Query })
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        }
    }
}
