// The Azure error envelope, `{"error":{"code","message","target"}}`, shared by Resource Manager and
// the Key Vault data plane. Clients key off `code`, so codes are stable identifiers (ErrorCodes);
// `message` is for humans and never carries key material, tokens or SAS URLs.
namespace Ironclad.ControlPlane.Errors;

/// <summary>The body of every error response: one <see cref="ErrorDetail"/> under <c>error</c>.</summary>
public sealed record ErrorResponse(ErrorDetail Error);

/// <summary>Azure's error detail. <paramref name="Target"/> is omitted from the JSON when null.</summary>
public sealed record ErrorDetail(string Code, string Message, string? Target = null);
