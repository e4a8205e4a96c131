// Puts the keys data plane in front of the control plane: a request that arrived on a vault's port
// (IVaultListenerPorts) goes to KeyVaultEdge and nowhere else; every other request continues to the
// ARM and identity endpoints. Invariant: the ARM and identity endpoints never answer on a vault port,
// and the data plane never answers on the control-plane port.
using Ironclad.ControlPlane.Identity;
using Ironclad.ResourceManager.KeyVault;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Ironclad.ControlPlane.KeyVault;

public static class KeyVaultDataPlaneEndpoints
{
    /// <summary>Branches vault-port requests off to the data plane; a no-op when the host runs no vault listeners.</summary>
    public static IApplicationBuilder UseKeyVaultDataPlane(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var services = app.ApplicationServices;
        if (services.GetService<IVaultListenerPorts>() is not { } ports)
        {
            return app;
        }

        var edge = new Lazy<KeyVaultEdge>(() => ActivatorUtilities.CreateInstance<KeyVaultEdge>(services,
            ActivatorUtilities.CreateInstance<KeyVaultAccess>(services),
            new VaultLookup(services.GetRequiredService<IVaultDirectory>(), services.GetService<IVaultEvents>())));
        return app.MapWhen(
            context => ports.IsVaultPort(context.Connection.LocalPort),
            branch =>
            {
                branch.UseBearerAuthentication();
                branch.Run(context => edge.Value.HandleAsync(context));
            });
    }
}
