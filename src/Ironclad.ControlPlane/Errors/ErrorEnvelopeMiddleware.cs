// Guarantees that no error leaves the server without the Azure envelope: unmatched routes and
// other bare status codes get one, and an unhandled exception becomes a 500 "InternalServerError"
// whose body never contains the exception's message (the exception is logged, with its stack).
using Microsoft.AspNetCore.Builder;

namespace Ironclad.ControlPlane.Errors;

public static class ErrorEnvelopeMiddleware
{
    /// <summary>Call first in the pipeline, so it wraps everything after it.</summary>
    public static IApplicationBuilder UseAzureErrorEnvelope(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);

        // ExceptionHandlerMiddleware logs the exception (category Microsoft.AspNetCore.Diagnostics)
        // and clears the response before calling us; if the response had already started it
        // can only abort the connection, which is the right thing for a half-written body.
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = context => AzureError.InternalServerError().ExecuteAsync(context),
        });

        // Runs only for 400-599 responses that have not started and have no body: an endpoint that
        // returned its own AzureError is left alone.
        app.UseStatusCodePages(context =>
        {
            var http = context.HttpContext;
            return AzureError.ForStatusCode(http.Response.StatusCode, http.Request.Method, http.Request.Path.Value ?? "/")
                .ExecuteAsync(http);
        });
        return app;
    }
}
