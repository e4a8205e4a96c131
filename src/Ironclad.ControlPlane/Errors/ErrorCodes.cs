// Error codes emitted by the HTTP edge itself (routing, unhandled failures), spelled as Azure
// spells them. Once shipped a code never changes: clients and tests match on it.
// Domain codes (KeyNotFound, ...) belong to Ironclad.Contracts/ErrorCodes.cs once that project exists.
namespace Ironclad.ControlPlane.Errors;

public static class ErrorCodes
{
    /// <summary>No endpoint matches the request path (404).</summary>
    public const string NotFound = "NotFound";

    /// <summary>The path exists but not for this HTTP method (405).</summary>
    public const string MethodNotAllowed = "MethodNotAllowed";

    /// <summary>An unexpected failure inside the server (500). The client never sees the cause.</summary>
    public const string InternalServerError = "InternalServerError";
}
