// The SAS data path of disks and snapshots on the control-plane port (page-blob style: HEAD, ranged
// GET, GET ?comp=pagelist, PUT ?comp=page), authorized by the signed token in the URL instead of a
// bearer token. Invariant: the SAS URL and its token never reach a log (this branch logs nothing
// that holds the path or query, and answers every failure itself in the blob service's XML
// envelope); a request is served only for an open, unexpired grant, through the disk's session.
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Ironclad.Compute.Access;
using Ironclad.Compute.Sessions;
using Ironclad.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Ironclad.ControlPlane.Compute;

public static partial class DiskDataEndpoints
{
    private const int ChunkBytes = 1 << 20;
    private const string AuthenticationDetailMarker = "\nAuthenticationErrorDetail: ";

    /// <summary>Branches SAS data requests off before bearer authentication (they carry their own signed token).</summary>
    public static IApplicationBuilder UseDiskDataAccess(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var services = app.ApplicationServices;
        if (services.GetService<DiskAccessGrants>() is not { } grants)
        {
            return app;
        }

        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Ironclad.ControlPlane.DiskData");
        return app.MapWhen(
            context => context.Request.Path.StartsWithSegments(DiskAccessGrants.PathPrefix, StringComparison.Ordinal),
            branch => branch.Run(context => HandleAsync(context, grants, logger)));
    }

    private static async Task HandleAsync(HttpContext http, DiskAccessGrants grants, ILogger logger)
    {
        var response = http.Response;
        response.Headers["x-ms-request-id"] = Guid.NewGuid().ToString("D");
        response.Headers["x-ms-version"] = SasSignature.ServiceVersion;
        response.Headers.Date = DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture);
        try
        {
            await ServeAsync(http, grants);
        }
        catch (DiskSessionRevokedException e)
        {
            // The grant's session was closed under the request (revocation or endGetAccess).
            await ErrorAsync(http, 403, "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."
                + AuthenticationDetailMarker + e.Message);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (IOException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away mid-body.
        }
        catch (BadHttpRequestException e)
        {
            await ErrorAsync(http, e.StatusCode, "InvalidInput", "One of the request inputs is not valid.");
        }
#pragma warning disable CA1031 // Every failure is answered here, in the blob envelope, so nothing upstream logs the request's URL.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogFailed(logger, http.Request.Method, e.GetType().Name, e is StorageException storage ? storage.Error.ToString() : null);
            await ErrorAsync(http, 500, "InternalError", "Server encountered an internal error. Please try again after some time.");
        }
    }

    private static async Task ServeAsync(HttpContext http, DiskAccessGrants grants)
    {
        var request = http.Request;
        var segments = (request.Path.Value ?? "")[DiskAccessGrants.PathPrefix.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length != 2 || !segments[1].Equals(DiskAccessGrants.BlobName, StringComparison.Ordinal))
        {
            await ErrorAsync(http, 404, "ResourceNotFound", "The specified resource does not exist.");
            return;
        }

        var query = request.Query;
        var comp = query["comp"].ToString();
        var isRead = (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && (comp.Length == 0 || comp == "pagelist");
        var isPageWrite = HttpMethods.IsPut(request.Method) && comp == "page";
        if (!isRead && !isPageWrite)
        {
            var (status, code, message) = HttpMethods.IsPut(request.Method)
                ? (400, "InvalidQueryParameterValue", "This disk accepts only Put Page (comp=page) writes.")
                : (405, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb.");
            await ErrorAsync(http, status, code, message);
            return;
        }

        var check = grants.Authorize(segments[0], ParametersOf(query), write: isPageWrite);
        if (check.Grant is not { } grant)
        {
            await ErrorAsync(http, check.Status, check.ErrorCode!, check.Message!);
            return;
        }

        SetBlobHeaders(http.Response, grant);
        if (isPageWrite)
        {
            await PutPageAsync(http, grant);
        }
        else if (comp == "pagelist")
        {
            await PageListAsync(http, grant);
        }
        else
        {
            await ReadAsync(http, grant);
        }
    }

    private static async Task ReadAsync(HttpContext http, DiskAccessGrant grant)
    {
        var total = grant.ContentLengthBytes;
        var range = RangeHeader(http.Request);
        long start = 0, end = total - 1;
        if (range is not null)
        {
            if (!TryParseRange(range, total, out start, out end, allowOpenEnd: true))
            {
                http.Response.Headers.ContentRange = $"bytes */{total.ToString(CultureInfo.InvariantCulture)}";
                await ErrorAsync(http, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
                return;
            }

            http.Response.StatusCode = 206;
            http.Response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {start}-{end}/{total}");
        }
        else
        {
            http.Response.StatusCode = 200;
        }

        http.Response.ContentType = "application/octet-stream";
        http.Response.ContentLength = end - start + 1;
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return;
        }

        // Streamed: one chunk of plaintext at a time, zeroed once sent.
        var buffer = new byte[(int)Math.Min(ChunkBytes, end - start + 1)];
        try
        {
            for (var offset = start; offset <= end;)
            {
                var n = (int)Math.Min(buffer.Length, end - offset + 1);
                grant.Read(offset, buffer.AsSpan(0, n));
                await http.Response.Body.WriteAsync(buffer.AsMemory(0, n), http.RequestAborted);
                offset += n;
            }
        }
        catch (DiskSessionRevokedException) when (http.Response.HasStarted)
        {
            // Revoked mid-body: cut the connection rather than pass a short body off as complete.
            http.Abort();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }

    private static async Task PutPageAsync(HttpContext http, DiskAccessGrant grant)
    {
        var request = http.Request;
        var pageWrite = request.Headers["x-ms-page-write"].ToString();
        if (pageWrite.Length == 0)
        {
            await ErrorAsync(http, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-page-write.");
            return;
        }

        var clear = pageWrite.Equals("clear", StringComparison.OrdinalIgnoreCase);
        if (!clear && !pageWrite.Equals("update", StringComparison.OrdinalIgnoreCase))
        {
            await ErrorAsync(http, 400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format: x-ms-page-write must be update or clear.");
            return;
        }

        if (RangeHeader(request) is not { } range)
        {
            await ErrorAsync(http, 400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: x-ms-range.");
            return;
        }

        if (!TryParseRange(range, grant.ContentLengthBytes, out var start, out var end, allowOpenEnd: false)
            || start % DiskAccessGrant.PageSizeBytes != 0 || (end + 1) % DiskAccessGrant.PageSizeBytes != 0)
        {
            await ErrorAsync(http, 416, "InvalidPageRange", "The page range specified is invalid: pages are 512-byte aligned and within the blob.");
            return;
        }

        var length = end - start + 1;
        if (length > DiskAccessGrant.MaxPageWriteBytes)
        {
            await ErrorAsync(http, 413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit (4 MiB per Put Page).");
            return;
        }

        if (clear)
        {
            if (request.ContentLength is > 0)
            {
                await ErrorAsync(http, 400, "InvalidHeaderValue", "A Put Page with x-ms-page-write: clear has no body (Content-Length: 0).");
                return;
            }

            grant.ClearPages(start, length);
        }
        else
        {
            if (request.ContentLength != length)
            {
                await ErrorAsync(http, 400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format: Content-Length must equal the length of x-ms-range.");
                return;
            }

            var body = new byte[length];
            try
            {
                await request.Body.ReadExactlyAsync(body, http.RequestAborted);
                grant.WritePages(start, body);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(body);
            }
        }

        // Acknowledged writes are durable, as the storage service's are.
        grant.Flush();
        http.Response.Headers["x-ms-blob-sequence-number"] = "0";
        http.Response.Headers["x-ms-request-server-encrypted"] = "true";
        http.Response.StatusCode = 201;
        http.Response.ContentLength = 0;
    }

    private static async Task PageListAsync(HttpContext http, DiskAccessGrant grant)
    {
        var total = grant.ContentLengthBytes;
        long start = 0, end = total - 1;
        if (RangeHeader(http.Request) is { } range && !TryParseRange(range, total, out start, out end, allowOpenEnd: true))
        {
            await ErrorAsync(http, 416, "InvalidRange", "The range specified is invalid for the current size of the resource.");
            return;
        }

        var list = new XElement("PageList",
            grant.PageRanges(start, end - start + 1).Select(r => new XElement("PageRange", new XElement("Start", r.Start), new XElement("End", r.End))));
        http.Response.Headers["x-ms-blob-content-length"] = total.ToString(CultureInfo.InvariantCulture);
        http.Response.StatusCode = 200;
        await WriteXmlAsync(http, list);
    }

    private static void SetBlobHeaders(HttpResponse response, DiskAccessGrant grant)
    {
        response.Headers.ETag = grant.ETag;
        response.Headers.LastModified = grant.IssuedOn.ToString("r", CultureInfo.InvariantCulture);
        response.Headers.AcceptRanges = "bytes";
        response.Headers["x-ms-blob-type"] = "PageBlob";
        response.Headers["x-ms-blob-sequence-number"] = "0";
        response.Headers["x-ms-lease-status"] = "unlocked";
        response.Headers["x-ms-lease-state"] = "available";
        response.Headers["x-ms-server-encrypted"] = "true";
    }

    private static SasParameters ParametersOf(IQueryCollection query)
    {
        string? Get(string name) => query.TryGetValue(name, out var value) && value.Count == 1 ? value.ToString() : null;
        return new SasParameters(Get("sv"), Get("sr"), Get("sp"), Get("se"), Get("sig"));
    }

    /// <summary>x-ms-range wins over Range, as in the storage service.</summary>
    private static string? RangeHeader(HttpRequest request)
    {
        var msRange = request.Headers["x-ms-range"].ToString();
        if (msRange.Length > 0)
        {
            return msRange;
        }

        var range = request.Headers.Range.ToString();
        return range.Length > 0 ? range : null;
    }

    /// <summary>"bytes=START-END" (or "bytes=START-" when allowed), inside [0, total).</summary>
    internal static bool TryParseRange(string header, long total, out long start, out long end, bool allowOpenEnd)
    {
        start = 0;
        end = -1;
        const string prefix = "bytes=";
        if (!header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var spec = header[prefix.Length..].Trim();
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0 || spec.Contains(',', StringComparison.Ordinal)
            || !long.TryParse(spec.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out start))
        {
            return false;
        }

        var endText = spec.AsSpan(dash + 1);
        if (endText.IsEmpty)
        {
            if (!allowOpenEnd)
            {
                return false;
            }

            end = total - 1;
        }
        else if (!long.TryParse(endText, NumberStyles.None, CultureInfo.InvariantCulture, out end))
        {
            return false;
        }

        if (start >= total)
        {
            return false;
        }

        end = Math.Min(end, total - 1);
        return end >= start;
    }

    /// <summary>The blob service's error: XML body (none for HEAD) and x-ms-error-code.</summary>
    private static async Task ErrorAsync(HttpContext http, int status, string code, string message)
    {
        var response = http.Response;
        if (response.HasStarted)
        {
            http.Abort();
            return;
        }

        response.StatusCode = status;
        response.Headers["x-ms-error-code"] = code;
        if (HttpMethods.IsHead(http.Request.Method))
        {
            return;
        }

        var detailAt = message.IndexOf(AuthenticationDetailMarker, StringComparison.Ordinal);
        var summary = detailAt < 0 ? message : message[..detailAt];
        var requestId = response.Headers["x-ms-request-id"].ToString();
        var error = new XElement("Error",
            new XElement("Code", code),
            new XElement("Message", $"{summary}\nRequestId:{requestId}\nTime:{DateTimeOffset.UtcNow:yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'}"));
        if (detailAt >= 0)
        {
            error.Add(new XElement("AuthenticationErrorDetail", message[(detailAt + AuthenticationDetailMarker.Length)..]));
        }

        await WriteXmlAsync(http, error);
    }

    private static async Task WriteXmlAsync(HttpContext http, XElement root)
    {
        var bytes = Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"utf-8\"?>" + root.ToString(SaveOptions.DisableFormatting));
        http.Response.ContentType = "application/xml";
        http.Response.ContentLength = bytes.Length;
        await http.Response.Body.WriteAsync(bytes, http.RequestAborted);
    }

    // Method and exception type only: the path and query (the SAS token) never go into a log.
    [LoggerMessage(EventId = 6320, Level = LogLevel.Error, Message = "A disk data request ({Method}) failed with {ExceptionType} {StorageError}")]
    private static partial void LogFailed(ILogger logger, string method, string exceptionType, string? storageError);
}
