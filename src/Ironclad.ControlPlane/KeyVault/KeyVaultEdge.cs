// The request pipeline of a vault's data plane, in this order: the vault behind the local port
// (VaultLookup; 404 when soft-deleted or gone), authentication (401 + challenge, before the body is read), api-version
// (400), routing (404/405/400), authorization (403, evaluated on every call), the body (capped, parsed,
// 400 BadParameter), the KeyVaultService call, then the audit record — appended before the response
// is sent, for every call that reached a vault, allowed or refused. Invariants: nothing runs before
// authentication and authorization have passed; every failure leaves as the cloud's envelope
// {"error":{"code","message","innererror"}}; bodies, keys and tokens never reach a log or the audit.
using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Ironclad.Identity;
using Ironclad.KeyVault;
using Ironclad.KeyVault.Audit;
using Ironclad.KeyVault.Keys;
using Ironclad.ResourceManager.KeyVault;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;

namespace Ironclad.ControlPlane.KeyVault;

internal sealed partial class KeyVaultEdge
{
    /// <summary>api-compat.md §1.3: what the SDKs send (JS 4.10.2 defaults to 2025-07-01; .NET sends 7.6).</summary>
    private static readonly HashSet<string> ApiVersions = new(StringComparer.Ordinal)
    {
        "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01",
    };

    private const int DefaultMaxResults = 25;
    private const string JsonContentType = "application/json; charset=utf-8";

    private readonly VaultLookup _vaults;
    private readonly KeyVaultService _keys;
    private readonly KeyVaultAccess _access;
    private readonly IKeyVaultAudit? _audit;
    private readonly ILogger _logger;

    public KeyVaultEdge(VaultLookup vaults, KeyVaultService keys, KeyVaultAccess access, ILoggerFactory loggerFactory, IKeyVaultAudit? audit = null)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _vaults = vaults;
        _keys = keys;
        _access = access;
        _audit = audit;
        _logger = loggerFactory.CreateLogger("Ironclad.KeyVault.DataPlane");
    }

    public async Task HandleAsync(HttpContext context)
    {
        var snapshot = _vaults.Find(context.Connection.LocalPort);
        var vault = snapshot?.Vault;
        if (vault is null || vault.IsDeleted)
        {
            // The cloud's DNS stops answering for a deleted vault; on loopback the port stays ours
            // until purge, and says so plainly.
            var message = vault is null
                ? "No vault serves this address."
                : $"The vault '{vault.Name}' is deleted; recover it (ARM) to use its keys again.";
            await WriteAsync(context, new Reply(404, KeyVaultJson.Error("VaultNotFound", message, null)));
            return;
        }

        var path = context.Request.Path.Value ?? "/";
        KeyVaultRouter.TryRoute(context.Request.Method, path, out var route, out var routeFailure);
        CallerIdentity? caller = null;
        string? usedVersion = null;
        Reply reply;
        try
        {
            caller = _access.Authenticate(context, vault);
            var apiVersion = ApiVersion(context.Request.Query);
            if (route is null)
            {
                throw new KeyVaultException(routeFailure!.Status, routeFailure.Code, routeFailure.Message);
            }

            _access.Authorize(caller, snapshot!, route.Operation, route.Name);
            (reply, usedVersion) = await ExecuteAsync(context, vault, route, apiVersion);
        }
        catch (KeyVaultException e) when (e.Status is >= 400 and < 500)
        {
            reply = new Reply(e.Status, KeyVaultJson.Error(e.Code, e.Message, e.InnerCode), e.Code, e.InnerCode);
            if (e.Status == 401)
            {
                reply = reply with { Challenge = _access.Challenge(vault) };
            }
        }
        catch (KeyVaultException e)
        {
            LogFailed(_logger, route?.Operation.AuditName ?? KeyVaultOperations.UnknownAuditName, vault.Name, e);
            reply = new Reply(500, KeyVaultJson.Error(KeyVaultErrorCodes.InternalError, "The vault failed to serve the request. Please retry it.", null), KeyVaultErrorCodes.InternalError);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(_logger, route?.Operation.AuditName ?? KeyVaultOperations.UnknownAuditName, vault.Name, e);
            reply = new Reply(500, KeyVaultJson.Error(KeyVaultErrorCodes.InternalError, "The vault failed to serve the request. Please retry it.", null), KeyVaultErrorCodes.InternalError);
        }

        if (_audit is not null)
        {
            try
            {
                _audit.Append(new AuditEntry(
                    caller?.TenantId, caller?.ObjectId, caller?.AppId, vault.Name,
                    route?.Operation.AuditName ?? KeyVaultOperations.UnknownAuditName,
                    route?.Name, usedVersion ?? route?.Version, reply.Status,
                    reply.Code is null ? "Success" : reply.InnerCode is null ? reply.Code : $"{reply.Code}/{reply.InnerCode}",
                    context.Connection.RemoteIpAddress?.ToString()));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // No answer leaves without its audit record: the caller sees a failure (and may retry).
                LogAuditFailed(_logger, vault.Name, e);
                if (reply.Body is not null)
                {
                    Array.Clear(reply.Body);
                }

                reply = new Reply(500, KeyVaultJson.Error(KeyVaultErrorCodes.InternalError, "The vault could not record the request in its audit log. Please retry it.", null), KeyVaultErrorCodes.InternalError);
            }
        }

        await WriteAsync(context, reply);
    }

    private async Task<(Reply Reply, string? Version)> ExecuteAsync(HttpContext context, VaultRecord vault, KeyVaultRoute route, string apiVersion)
    {
        var operation = route.Operation;
        var name = route.Name;
        switch (operation.Kind)
        {
            case KeyVaultOperationKind.Get:
                return Bundle(vault, _keys.Get(vault, name!, route.Version));
            case KeyVaultOperationKind.List:
                {
                    var (max, skip) = Paging(context.Request.Query);
                    var page = _keys.List(vault, max, skip);
                    return (Ok(w => KeyVaultJson.Page(w, page.Items, NextLink(vault, "keys", apiVersion, max, page.NextSkipToken),
                        (writer, key) => KeyVaultJson.KeyItem(writer, vault, key, versioned: false))), null);
                }

            case KeyVaultOperationKind.ListVersions:
                {
                    var (max, skip) = Paging(context.Request.Query);
                    var page = _keys.ListVersions(vault, name!, max, skip);
                    return (Ok(w => KeyVaultJson.Page(w, page.Items, NextLink(vault, $"keys/{name}/versions", apiVersion, max, page.NextSkipToken),
                        (writer, key) => KeyVaultJson.KeyItem(writer, vault, key, versioned: true))), null);
                }

            case KeyVaultOperationKind.ListDeleted:
                {
                    var (max, skip) = Paging(context.Request.Query);
                    var page = _keys.ListDeleted(vault, max, skip);
                    return (Ok(w => KeyVaultJson.Page(w, page.Items, NextLink(vault, "deletedkeys", apiVersion, max, page.NextSkipToken),
                        (writer, deleted) => KeyVaultJson.DeletedKeyItem(writer, vault, deleted))), null);
                }

            case KeyVaultOperationKind.Rotate:
                return Bundle(vault, _keys.Rotate(vault, name!));
            case KeyVaultOperationKind.GetRotationPolicy:
                {
                    var policy = _keys.GetRotationPolicy(vault, name!);
                    return (Ok(w => KeyVaultJson.RotationPolicy(w, vault, name!, policy)), null);
                }

            case KeyVaultOperationKind.Backup:
                {
                    var backup = _keys.Backup(vault, name!);
                    return (Ok(w => KeyVaultJson.BackupResult(w, backup)), null);
                }

            case KeyVaultOperationKind.Delete:
                {
                    var deleted = _keys.Delete(vault, name!);
                    return (Ok(w => KeyVaultJson.DeletedKeyBundle(w, vault, deleted)), deleted.Key.Version);
                }

            case KeyVaultOperationKind.GetDeleted:
                {
                    var deleted = _keys.GetDeleted(vault, name!);
                    return (Ok(w => KeyVaultJson.DeletedKeyBundle(w, vault, deleted)), deleted.Key.Version);
                }

            case KeyVaultOperationKind.Recover:
                return Bundle(vault, _keys.Recover(vault, name!));
            case KeyVaultOperationKind.Purge:
                _keys.Purge(vault, name!);
                return (new Reply(204, null), null);
            default:
                break;
        }

        // Operations with a JSON body: read it only now (after authentication and authorization).
        var (buffer, length) = await ReadBodyAsync(context.Request, operation.BodyLimitBytes, context.RequestAborted);
        try
        {
            using var document = KeyVaultJson.ParseObject(buffer.AsMemory(0, length));
            var body = document.RootElement;
            return operation.Kind switch
            {
                KeyVaultOperationKind.Create => Bundle(vault, _keys.Create(vault, name!, KeyVaultJson.CreateRequest(body))),
                KeyVaultOperationKind.Import => Bundle(vault, _keys.Import(vault, name!, KeyVaultJson.ImportRequest(body))),
                KeyVaultOperationKind.Update => Bundle(vault, _keys.Update(vault, name!, route.Version, KeyVaultJson.UpdateRequest(body))),
                KeyVaultOperationKind.SetRotationPolicy => SetRotationPolicy(vault, name!, body),
                KeyVaultOperationKind.Restore => Bundle(vault, _keys.Restore(vault, KeyVaultJson.RequiredBase64UrlBytes(body, "value"))),
                KeyVaultOperationKind.Encrypt or KeyVaultOperationKind.Decrypt or KeyVaultOperationKind.WrapKey
                    or KeyVaultOperationKind.UnwrapKey or KeyVaultOperationKind.Sign => KeyOperation(vault, route, body),
                KeyVaultOperationKind.Verify => Verify(vault, route, body),
                _ => throw new InvalidOperationException($"Operation {operation.Kind} has no handler."),
            };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    private (Reply, string?) SetRotationPolicy(VaultRecord vault, string name, JsonElement body)
    {
        var policy = _keys.SetRotationPolicy(vault, name, KeyVaultJson.RotationPolicyRequest(body));
        return (Ok(w => KeyVaultJson.RotationPolicy(w, vault, name, policy)), null);
    }

    private (Reply, string?) KeyOperation(VaultRecord vault, KeyVaultRoute route, JsonElement body)
    {
        var kind = route.Operation.Kind;
        var algorithm = Algorithm(body, kind);
        var value = KeyVaultJson.RequiredBase64UrlBytes(body, "value");
        try
        {
            var outcome = kind switch
            {
                KeyVaultOperationKind.Encrypt => _keys.Encrypt(vault, route.Name!, route.Version, algorithm, value),
                KeyVaultOperationKind.Decrypt => _keys.Decrypt(vault, route.Name!, route.Version, algorithm, value),
                KeyVaultOperationKind.WrapKey => _keys.WrapKey(vault, route.Name!, route.Version, algorithm, value),
                KeyVaultOperationKind.UnwrapKey => _keys.UnwrapKey(vault, route.Name!, route.Version, algorithm, value),
                _ => _keys.Sign(vault, route.Name!, route.Version, algorithm, value),
            };
            try
            {
                return (Ok(w => KeyVaultJson.OperationResult(w, vault, outcome)), outcome.Key.Version);
            }
            finally
            {
                // A decrypted or unwrapped value lives only until it is serialized.
                Array.Clear(outcome.Value);
            }
        }
        finally
        {
            Array.Clear(value);
        }
    }

    private (Reply, string?) Verify(VaultRecord vault, KeyVaultRoute route, JsonElement body)
    {
        var algorithm = Algorithm(body, KeyVaultOperationKind.Verify);
        var digest = KeyVaultJson.RequiredBase64UrlBytes(body, "digest");
        var signature = KeyVaultJson.RequiredBase64UrlBytes(body, "value");
        var outcome = _keys.Verify(vault, route.Name!, route.Version, algorithm, digest, signature);
        return (Ok(w => KeyVaultJson.VerifyResult(w, outcome)), outcome.Key.Version);
    }

    /// <summary>The `alg` of a key operation; one this operation does not know is 400 BadParameter before the key is touched.</summary>
    private static string Algorithm(JsonElement body, KeyVaultOperationKind kind)
    {
        var algorithm = KeyVaultJson.RequiredString(body, "alg");
        var known = kind is KeyVaultOperationKind.Sign or KeyVaultOperationKind.Verify
            ? algorithm is KeyAlgorithms.RS256 or KeyAlgorithms.RS384 or KeyAlgorithms.RS512 or KeyAlgorithms.PS256 or KeyAlgorithms.PS384 or KeyAlgorithms.PS512
            : algorithm is KeyAlgorithms.RsaOaep or KeyAlgorithms.RsaOaep256 or KeyAlgorithms.Rsa15;
        return known
            ? algorithm
            : throw KeyVaultException.BadParameter($"The algorithm '{algorithm}' is not supported for {KeyVaultOperations.WireName(kind)}.");
    }

    private static (Reply, string?) Bundle(VaultRecord vault, KeyVersion key) =>
        (Ok(w => KeyVaultJson.KeyBundle(w, vault, key)), key.Version);

    private static Reply Ok(Action<Utf8JsonWriter> write) => new(200, KeyVaultJson.Write(write));

    private static string ApiVersion(IQueryCollection query)
    {
        if (!query.TryGetValue("api-version", out var values) || StringValues.IsNullOrEmpty(values))
        {
            throw KeyVaultException.BadParameter("The api-version query parameter is missing; this server accepts 7.0 to 7.6 and 2025-07-01.");
        }

        // nextLink carries api-version and some pipelines append it again: equal duplicates are fine.
        var version = values[0]!;
        foreach (var value in values)
        {
            if (!ApiVersions.Contains(value ?? "") || value != version)
            {
                throw KeyVaultException.BadParameter($"The api-version '{value}' is not supported; this server accepts 7.0 to 7.6 and 2025-07-01.");
            }
        }

        return version;
    }

    private static (int MaxResults, string? SkipToken) Paging(IQueryCollection query)
    {
        var max = DefaultMaxResults;
        if (query.TryGetValue("maxresults", out var text) && !StringValues.IsNullOrEmpty(text))
        {
            if (!int.TryParse(text[0], NumberStyles.None, CultureInfo.InvariantCulture, out max) || max is < 1 or > DefaultMaxResults)
            {
                throw KeyVaultException.BadParameter("The maxresults query parameter must be an integer from 1 to 25.");
            }
        }

        var skip = query.TryGetValue("$skiptoken", out var token) && !StringValues.IsNullOrEmpty(token) ? token[0] : null;
        return (max, skip);
    }

    private static string? NextLink(VaultRecord vault, string relativePath, string apiVersion, int maxResults, string? skipToken) =>
        skipToken is null
            ? null
            : string.Create(CultureInfo.InvariantCulture,
                $"{KeyVaultJson.Origin(vault)}/{relativePath}?api-version={apiVersion}&$skiptoken={Uri.EscapeDataString(skipToken)}&maxresults={maxResults}");

    /// <summary>Reads the body into a pooled buffer (return it cleared); over the operation's limit is 400 before reading on.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpRequest request, int limitBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength is { } declared && declared > limitBytes)
        {
            throw TooLarge(limitBytes);
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 4096, limitBytes) + 1);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length > limitBytes)
                    {
                        throw TooLarge(limitBytes);
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limitBytes + 1));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > limitBytes)
                {
                    throw TooLarge(limitBytes);
                }
            }

            return (buffer, length);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
            throw;
        }

        static KeyVaultException TooLarge(int limitBytes) => KeyVaultException.BadParameter(
            string.Create(CultureInfo.InvariantCulture, $"The request body is larger than this operation accepts ({limitBytes} bytes)."));
    }

    private static async Task WriteAsync(HttpContext context, Reply reply)
    {
        var response = context.Response;
        response.StatusCode = reply.Status;
        if (reply.Challenge is not null)
        {
            response.Headers.WWWAuthenticate = reply.Challenge;
        }

        if (reply.Body is null)
        {
            response.ContentLength = 0;
            return;
        }

        response.ContentType = JsonContentType;
        response.ContentLength = reply.Body.Length;
        try
        {
            await response.Body.WriteAsync(reply.Body, context.RequestAborted);
        }
        finally
        {
            // An unwrapped key or decrypted plaintext (base64url) is not left in the heap.
            Array.Clear(reply.Body);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Key Vault data-plane operation {Operation} on vault {Vault} failed")]
    private static partial void LogFailed(ILogger logger, string operation, string vault, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The audit record of a call to vault {Vault} could not be written; the call is answered 500")]
    private static partial void LogAuditFailed(ILogger logger, string vault, Exception exception);

    /// <summary>What goes back: status, JSON body (null = none), the error code and inner code (null = success), the challenge.</summary>
    private sealed record Reply(int Status, byte[]? Body, string? Code = null, string? InnerCode = null, string? Challenge = null);
}
