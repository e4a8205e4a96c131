// Carries the outcome of bearer-token authentication from the authentication middleware (Identity/)
// to the endpoint groups that authorize (ResourceManager/, later KeyVault/). Invariant: a request has
// at most one outcome — a verified caller, or the reason its token was refused — and neither is set
// for a request that carried no Authorization header.
using Ironclad.Identity;
using Microsoft.AspNetCore.Http;

namespace Ironclad.ControlPlane.Authentication;

/// <summary>Why a presented bearer token was refused; <see cref="Code"/> is the ARM error code to answer with.</summary>
/// <param name="Code">e.g. InvalidAuthenticationToken, ExpiredAuthenticationToken, InvalidAuthenticationTokenTenant.</param>
/// <param name="Message">Safe to return to the caller: never contains the token.</param>
public sealed record TokenFailure(string Code, string Message);

public static class CallerContext
{
    private static readonly object CallerKey = new();
    private static readonly object FailureKey = new();

    /// <summary>The verified caller, or null (no token, or a refused one: see <see cref="GetTokenFailure"/>).</summary>
    public static CallerIdentity? GetCaller(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Items.TryGetValue(CallerKey, out var value) ? value as CallerIdentity : null;
    }

    /// <summary>Why the request's token was refused, or null.</summary>
    public static TokenFailure? GetTokenFailure(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Items.TryGetValue(FailureKey, out var value) ? value as TokenFailure : null;
    }

    public static void SetCaller(this HttpContext context, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(caller);
        context.Items.Remove(FailureKey);
        context.Items[CallerKey] = caller;
    }

    public static void SetTokenFailure(this HttpContext context, TokenFailure failure)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(failure);
        context.Items.Remove(CallerKey);
        context.Items[FailureKey] = failure;
    }
}
