// Wire shapes of the identity endpoints, snake_case as OAuth2 (RFC 6749 §5), OpenID Connect
// Discovery 1.0 §3 and JWK (RFC 7517 §4) spell them, with Entra ID's extra fields
// (ext_expires_in, error_codes, trace_id, correlation_id) that the Azure SDKs read.
using System.Text.Json.Serialization;

namespace Ironclad.ControlPlane.Identity;

internal sealed record TokenResponse(
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] long ExpiresIn,
    [property: JsonPropertyName("ext_expires_in")] long ExtExpiresIn,
    [property: JsonPropertyName("access_token")] string AccessToken);

/// <summary>The v1 endpoint's response: numbers as strings, plus expires_on and resource.</summary>
internal sealed record TokenResponseV1(
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] string ExpiresIn,
    [property: JsonPropertyName("ext_expires_in")] string ExtExpiresIn,
    [property: JsonPropertyName("expires_on")] string ExpiresOn,
    [property: JsonPropertyName("not_before")] string NotBefore,
    [property: JsonPropertyName("resource")] string Resource,
    [property: JsonPropertyName("access_token")] string AccessToken);

internal sealed record OAuthErrorResponse(
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("error_description")] string ErrorDescription,
    [property: JsonPropertyName("error_codes")] int[] ErrorCodes,
    [property: JsonPropertyName("timestamp")] string Timestamp,
    [property: JsonPropertyName("trace_id")] string TraceId,
    [property: JsonPropertyName("correlation_id")] string CorrelationId);

internal sealed record OpenIdConfiguration(
    [property: JsonPropertyName("issuer")] string Issuer,
    [property: JsonPropertyName("authorization_endpoint")] string AuthorizationEndpoint,
    [property: JsonPropertyName("token_endpoint")] string TokenEndpoint,
    [property: JsonPropertyName("jwks_uri")] string JwksUri,
    [property: JsonPropertyName("token_endpoint_auth_methods_supported")] string[] TokenEndpointAuthMethodsSupported,
    [property: JsonPropertyName("response_types_supported")] string[] ResponseTypesSupported,
    [property: JsonPropertyName("subject_types_supported")] string[] SubjectTypesSupported,
    [property: JsonPropertyName("id_token_signing_alg_values_supported")] string[] IdTokenSigningAlgValuesSupported,
    [property: JsonPropertyName("grant_types_supported")] string[] GrantTypesSupported,
    [property: JsonPropertyName("scopes_supported")] string[] ScopesSupported,
    [property: JsonPropertyName("claims_supported")] string[] ClaimsSupported,
    [property: JsonPropertyName("tenant_region_scope")] string? TenantRegionScope,
    [property: JsonPropertyName("cloud_instance_name")] string CloudInstanceName);

internal sealed record JsonWebKeyDocument(
    [property: JsonPropertyName("kty")] string KeyType,
    [property: JsonPropertyName("use")] string Use,
    [property: JsonPropertyName("alg")] string Algorithm,
    [property: JsonPropertyName("kid")] string KeyId,
    [property: JsonPropertyName("n")] string Modulus,
    [property: JsonPropertyName("e")] string Exponent);

internal sealed record JsonWebKeySetDocument([property: JsonPropertyName("keys")] JsonWebKeyDocument[] Keys);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(TokenResponseV1))]
[JsonSerializable(typeof(OAuthErrorResponse))]
[JsonSerializable(typeof(OpenIdConfiguration))]
[JsonSerializable(typeof(JsonWebKeySetDocument))]
internal sealed partial class IdentityJsonContext : JsonSerializerContext;
