// Maps a data-plane request line to an operation, key name and version, with every path quirk the
// SDKs produce (api-compat.md §1.4): `GET /keys/{n}/` (trailing slash = latest), `/keys/{n}//wrapkey`
// (versionless CryptographyClient), `/keys/{n}/wrapKey` (.NET, no version segment), verbs in any case,
// and verb names told apart from 32-hex version ids. Invariant: routing looks at the method and the
// path only — never at the body, so it can run before authentication.
using System.Text.RegularExpressions;
using Ironclad.KeyVault;

namespace Ironclad.ControlPlane.KeyVault;

/// <summary>A routed request. <see cref="Name"/> is null for collection calls; <see cref="Version"/> null = latest.</summary>
internal sealed record KeyVaultRoute(KeyVaultOperation Operation, string? Name, string? Version);

/// <summary>Why a request did not route: 404 (no such path), 405 (path exists, not for this method), 400 (bad name).</summary>
internal sealed record KeyVaultRouteFailure(int Status, string Code, string Message);

internal static partial class KeyVaultRouter
{
    public static bool TryRoute(string method, string path, out KeyVaultRoute? route, out KeyVaultRouteFailure? failure)
    {
        route = null;
        failure = null;
        var segments = Split(path);
        if (segments.Length == 0)
        {
            return NotFound(method, path, out failure);
        }

        if (Is(segments[0], "keys"))
        {
            return RouteKeys(method, path, segments, out route, out failure);
        }

        if (Is(segments[0], "deletedkeys"))
        {
            return RouteDeletedKeys(method, path, segments, out route, out failure);
        }

        return NotFound(method, path, out failure);
    }

    /// <summary>True for a valid key name: 1–127 of [0-9a-zA-Z-] (the cloud's rule).</summary>
    public static bool IsValidName(string name) => KeyNamePattern().IsMatch(name);

    private static bool RouteKeys(string method, string path, string[] s, out KeyVaultRoute? route, out KeyVaultRouteFailure? failure)
    {
        route = null;
        failure = null;
        switch (s.Length)
        {
            case 1:
                return Method(method, "GET", path, KeyVaultOperationKind.List, null, null, out route, out failure);
            case 2 when Is(s[1], "restore") && method == "POST":
                return Ok(KeyVaultOperationKind.Restore, null, null, out route);
            case 2:
                if (!ValidName(s[1], out failure))
                {
                    return false;
                }

                return method switch
                {
                    "GET" => Ok(KeyVaultOperationKind.Get, s[1], null, out route),
                    "PUT" => Ok(KeyVaultOperationKind.Import, s[1], null, out route),
                    "PATCH" => Ok(KeyVaultOperationKind.Update, s[1], null, out route),
                    "DELETE" => Ok(KeyVaultOperationKind.Delete, s[1], null, out route),
                    _ => NotAllowed(method, path, out failure),
                };
            case 3:
                {
                    if (!ValidName(s[1], out failure))
                    {
                        return false;
                    }

                    var third = s[2];
                    if (KeyOperation(third) is { } op)
                    {
                        // .NET: /keys/{n}/wrapKey (no version segment) = latest version.
                        return Method(method, "POST", path, op, s[1], null, out route, out failure);
                    }

                    if (Is(third, "create"))
                    {
                        return Method(method, "POST", path, KeyVaultOperationKind.Create, s[1], null, out route, out failure);
                    }

                    if (Is(third, "versions"))
                    {
                        return Method(method, "GET", path, KeyVaultOperationKind.ListVersions, s[1], null, out route, out failure);
                    }

                    if (Is(third, "rotate"))
                    {
                        return Method(method, "POST", path, KeyVaultOperationKind.Rotate, s[1], null, out route, out failure);
                    }

                    if (Is(third, "backup"))
                    {
                        return Method(method, "POST", path, KeyVaultOperationKind.Backup, s[1], null, out route, out failure);
                    }

                    if (Is(third, "rotationpolicy"))
                    {
                        return method switch
                        {
                            "GET" => Ok(KeyVaultOperationKind.GetRotationPolicy, s[1], null, out route),
                            "PUT" => Ok(KeyVaultOperationKind.SetRotationPolicy, s[1], null, out route),
                            _ => NotAllowed(method, path, out failure),
                        };
                    }

                    if (Is(third, "release") || Is(third, "attestation"))
                    {
                        failure = new KeyVaultRouteFailure(400, KeyVaultErrorCodes.BadParameter, $"The operation '{third}' is not supported by this server (no secure key release).");
                        return false;
                    }

                    // A version ("" = latest, from the SDK's trailing slash).
                    var version = third.Length == 0 ? null : third;
                    return method switch
                    {
                        "GET" => Ok(KeyVaultOperationKind.Get, s[1], version, out route),
                        "PATCH" => Ok(KeyVaultOperationKind.Update, s[1], version, out route),
                        _ => NotAllowed(method, path, out failure),
                    };
                }

            case 4:
                {
                    if (!ValidName(s[1], out failure))
                    {
                        return false;
                    }

                    if (KeyOperation(s[3]) is { } op)
                    {
                        // /keys/{n}/{version}/wrapkey, and /keys/{n}//wrapkey (versionless CryptographyClient).
                        return Method(method, "POST", path, op, s[1], s[2].Length == 0 ? null : s[2], out route, out failure);
                    }

                    return NotFound(method, path, out failure);
                }

            default:
                return NotFound(method, path, out failure);
        }
    }

    private static bool RouteDeletedKeys(string method, string path, string[] s, out KeyVaultRoute? route, out KeyVaultRouteFailure? failure)
    {
        route = null;
        failure = null;
        switch (s.Length)
        {
            case 1:
                return Method(method, "GET", path, KeyVaultOperationKind.ListDeleted, null, null, out route, out failure);
            case 2:
                if (!ValidName(s[1], out failure))
                {
                    return false;
                }

                return method switch
                {
                    "GET" => Ok(KeyVaultOperationKind.GetDeleted, s[1], null, out route),
                    "DELETE" => Ok(KeyVaultOperationKind.Purge, s[1], null, out route),
                    _ => NotAllowed(method, path, out failure),
                };
            case 3 when Is(s[2], "recover"):
                if (!ValidName(s[1], out failure))
                {
                    return false;
                }

                return Method(method, "POST", path, KeyVaultOperationKind.Recover, s[1], null, out route, out failure);
            default:
                return NotFound(method, path, out failure);
        }
    }

    /// <summary>Path segments without the leading slash and without one trailing empty segment (so /keys/ = /keys, /keys/k/ = /keys/k).</summary>
    private static string[] Split(string path)
    {
        var trimmed = path.StartsWith('/') ? path[1..] : path;
        if (trimmed.Length == 0)
        {
            return [];
        }

        var segments = trimmed.Split('/');
        if (segments.Length > 1 && segments[^1].Length == 0)
        {
            segments = segments[..^1];
        }

        return segments;
    }

    private static KeyVaultOperationKind? KeyOperation(string segment) => segment.ToLowerInvariant() switch
    {
        "encrypt" => KeyVaultOperationKind.Encrypt,
        "decrypt" => KeyVaultOperationKind.Decrypt,
        "wrapkey" => KeyVaultOperationKind.WrapKey,
        "unwrapkey" => KeyVaultOperationKind.UnwrapKey,
        "sign" => KeyVaultOperationKind.Sign,
        "verify" => KeyVaultOperationKind.Verify,
        _ => null,
    };

    private static bool Is(string segment, string literal) => segment.Equals(literal, StringComparison.OrdinalIgnoreCase);

    private static bool ValidName(string name, out KeyVaultRouteFailure? failure)
    {
        // The cloud's exact text (KeyRules says the same for names that reach the domain).
        failure = IsValidName(name)
            ? null
            : new KeyVaultRouteFailure(400, KeyVaultErrorCodes.BadParameter,
                $"The request URI contains an invalid name: {(name.Length > 127 ? string.Concat(name.AsSpan(0, 127), "…") : name)}");
        return failure is null;
    }

    private static bool Method(string method, string expected, string path, KeyVaultOperationKind kind, string? name, string? version,
        out KeyVaultRoute? route, out KeyVaultRouteFailure? failure)
    {
        failure = null;
        route = null;
        return method == expected ? Ok(kind, name, version, out route) : NotAllowed(method, path, out failure);
    }

    private static bool Ok(KeyVaultOperationKind kind, string? name, string? version, out KeyVaultRoute? route)
    {
        route = new KeyVaultRoute(KeyVaultOperations.Get(kind), name, version);
        return true;
    }

    private static bool NotFound(string method, string path, out KeyVaultRouteFailure? failure)
    {
        failure = new KeyVaultRouteFailure(404, "NotFound", $"No operation of the keys data plane serves {method} {path}.");
        return false;
    }

    private static bool NotAllowed(string method, string path, out KeyVaultRouteFailure? failure)
    {
        failure = new KeyVaultRouteFailure(405, "MethodNotAllowed", $"The method {method} is not allowed on {path}.");
        return false;
    }

    [GeneratedRegex("^[0-9a-zA-Z-]{1,127}$", RegexOptions.CultureInvariant)]
    private static partial Regex KeyNamePattern();
}
