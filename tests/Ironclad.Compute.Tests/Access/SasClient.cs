// What the access tests do over HTTP, as a client would: disks through ARM (create, beginGetAccess,
// endGetAccess, diskState) and the accessSAS URL as a page blob (HEAD, ranged GET, Put Page) with a
// plain HttpClient that trusts the server's CA and sends no bearer token.
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ironclad.Compute.Tests.EncryptionSets;
using Ironclad.Testing.Processes;

namespace Ironclad.Compute.Tests.Access;

/// <summary>A blob answer: status, headers we look at, body bytes.</summary>
public sealed record BlobResponse(int Status, string? ErrorCode, string? ContentRange, long? ContentLength, string? BlobType, byte[] Body)
{
    public string Text => System.Text.Encoding.UTF8.GetString(Body);

    public override string ToString() => $"{Status} {ErrorCode} {(Body.Length < 2000 ? Text : $"{Body.Length} bytes")}";
}

public sealed class SasClient : IDisposable
{
    private readonly SetsServer _server;
    private readonly HttpClient _blob;

    public SasClient(SetsServer server)
    {
        _server = server;
        _blob = CaTrust.CreateHttpClient(server.Server.Endpoints.CaCertificate, server.Server.Endpoints.Url);
    }

    public string DiskPath(string name) => $"{_server.GroupId}/providers/Microsoft.Compute/disks/{name}";

    /// <summary>An Upload disk (ReadyToUpload) of <paramref name="uploadSizeBytes"/>, platform key unless a set is given.</summary>
    public Task<JsonElement> CreateUploadDiskAsync(string name, long uploadSizeBytes, string? encryptionSetId = null, CancellationToken cancellationToken = default) =>
        CreateDiskAsync(name, new JsonObject { ["createOption"] = "Upload", ["uploadSizeBytes"] = uploadSizeBytes }, null, encryptionSetId, cancellationToken);

    public Task<JsonElement> CreateEmptyDiskAsync(string name, int sizeGb, string? encryptionSetId = null, CancellationToken cancellationToken = default) =>
        CreateDiskAsync(name, new JsonObject { ["createOption"] = "Empty" }, sizeGb, encryptionSetId, cancellationToken);

    public async Task<ApiResponse> GrantAsync(string disk, string access, int seconds, CancellationToken cancellationToken = default) =>
        await _server.ArmAsync(HttpMethod.Post, $"{DiskPath(disk)}/beginGetAccess?{SetsServer.ArmApi}",
            new JsonObject { ["access"] = access, ["durationInSeconds"] = seconds }, cancellationToken);

    /// <summary>beginGetAccess that must succeed; returns the accessSAS URL.</summary>
    public async Task<Uri> GrantOkAsync(string disk, string access, int seconds = 3600, CancellationToken cancellationToken = default)
    {
        var response = await GrantAsync(disk, access, seconds, cancellationToken);
        Assert.True(response.Status == 200, $"beginGetAccess {disk} {access}: {response}");
        return new Uri(response.Json.GetProperty("accessSAS").GetString()!);
    }

    public async Task EndAsync(string disk, CancellationToken cancellationToken = default)
    {
        var response = await _server.ArmAsync(HttpMethod.Post, $"{DiskPath(disk)}/endGetAccess?{SetsServer.ArmApi}", null, cancellationToken);
        Assert.True(response.Status == 200, $"endGetAccess {disk}: {response}");
    }

    public async Task<string> DiskStateAsync(string disk, CancellationToken cancellationToken = default) =>
        (await _server.ArmOkAsync(HttpMethod.Get, $"{DiskPath(disk)}?{SetsServer.ArmApi}", cancellationToken: cancellationToken))
            .GetProperty("properties").GetProperty("diskState").GetString()!;

    public Task<BlobResponse> HeadAsync(Uri sas, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Head, sas), cancellationToken);

    /// <summary>GET, with a Range (or x-ms-range) when given.</summary>
    public Task<BlobResponse> GetAsync(Uri sas, long? start = null, long? end = null, bool msRange = false, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, sas);
        if (start is { } s)
        {
            var range = $"bytes={s}-{(end is { } e ? e.ToString(System.Globalization.CultureInfo.InvariantCulture) : "")}";
            if (msRange)
            {
                request.Headers.TryAddWithoutValidation("x-ms-range", range);
            }
            else
            {
                request.Headers.TryAddWithoutValidation("Range", range);
            }
        }

        return SendAsync(request, cancellationToken);
    }

    /// <summary>Put Page update of <paramref name="data"/> at <paramref name="offset"/>.</summary>
    public Task<BlobResponse> PutPagesAsync(Uri sas, long offset, byte[] data, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, new Uri(sas + "&comp=page"));
        request.Headers.TryAddWithoutValidation("x-ms-range", $"bytes={offset}-{offset + data.Length - 1}");
        request.Headers.TryAddWithoutValidation("x-ms-page-write", "update");
        request.Headers.TryAddWithoutValidation("x-ms-version", "2018-03-28");
        request.Content = new ByteArrayContent(data);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return SendAsync(request, cancellationToken);
    }

    public Task<BlobResponse> ClearPagesAsync(Uri sas, long offset, long length, CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, new Uri(sas + "&comp=page"));
        request.Headers.TryAddWithoutValidation("x-ms-range", $"bytes={offset}-{offset + length - 1}");
        request.Headers.TryAddWithoutValidation("x-ms-page-write", "clear");
        request.Content = new ByteArrayContent([]);
        return SendAsync(request, cancellationToken);
    }

    public void Dispose() => _blob.Dispose();

    private async Task<JsonElement> CreateDiskAsync(string name, JsonObject creationData, int? sizeGb, string? encryptionSetId, CancellationToken cancellationToken)
    {
        var properties = new JsonObject { ["creationData"] = creationData };
        if (sizeGb is { } gb)
        {
            properties["diskSizeGB"] = gb;
        }

        if (encryptionSetId is not null)
        {
            properties["encryption"] = new JsonObject { ["type"] = "EncryptionAtRestWithCustomerKey", ["diskEncryptionSetId"] = encryptionSetId };
        }

        return await _server.ArmOkAsync(HttpMethod.Put, $"{DiskPath(name)}?{SetsServer.ArmApi}",
            new JsonObject { ["location"] = "eastus", ["sku"] = new JsonObject { ["name"] = "Premium_LRS" }, ["properties"] = properties }, cancellationToken);
    }

    private async Task<BlobResponse> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using var response = await _blob.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            return new BlobResponse(
                (int)response.StatusCode,
                response.Headers.TryGetValues("x-ms-error-code", out var codes) ? codes.First() : null,
                response.Content.Headers.ContentRange?.ToString(),
                response.Content.Headers.ContentLength,
                response.Headers.TryGetValues("x-ms-blob-type", out var types) ? types.First() : null,
                body);
        }
    }
}
