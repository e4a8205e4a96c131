// Composition root of `ironclad server`: which roles run in the process and how they are wired.
// Today: the HTTPS control plane (Kestrel + Ironclad.ControlPlane), the volume store and the NBD
// listener over the export registry (see "Roles" below); nothing outside this file decides what runs.
using System.Net;
using Ironclad.ControlPlane;
using Ironclad.Host.Exports;
using Ironclad.Host.Tls;
using Ironclad.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Ironclad.Host.Server;

internal static class ServerComposition
{
    /// <summary>How long in-flight requests (later: NBD flushes) get to finish after SIGTERM.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(10);

    public static WebApplication Build(
        ServerSettings settings, Data.DataDirectory dataDirectory, TlsMaterial tls, VolumeStore volumes, ILoggerFactory loggerFactory, TimeProvider time)
    {
        // The empty builder reads no appsettings.json, environment variables or command line:
        // the process is configured by its own options only, so a stray ASPNETCORE_URLS cannot
        // open a second, plain-HTTP listener.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = "ironclad",
            EnvironmentName = Environments.Production,
            ContentRootPath = dataDirectory.FullPath,
        });

        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(dataDirectory);
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = ShutdownTimeout);
        // ServerRunner logs start and stop itself, as structured events.
        builder.Services.Configure<ConsoleLifetimeOptions>(options => options.SuppressStatusMessages = true);

        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // HTTPS only: there is no plain-HTTP listener at all (the SDKs refuse tokens over HTTP).
            kestrel.Listen(settings.BindAddress, settings.Port, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(tls.ServerCertificate);
            });
            // Every vault's data-plane port (KeyVaultListeners binds them as vaults come and go):
            // same certificate, same protocols, same pipeline (UseControlPlane branches by port).
            kestrel.Listen(new VaultPortsEndPoint(), listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps(tls.ServerCertificate);
            });
        });

        builder.Services.AddControlPlane();

        // ── Roles ────────────────────────────────────────────────────────────────────────────
        // Storage engine (Ironclad.Storage): the volume store in DIR/volumes, opened (recovered)
        // by ServerRunner before the listeners and closed after them. It knows nothing of HTTP.
        builder.Services.AddSingleton(volumes);
        // NBD listener (Ironclad.Nbd): a hosted service registered before the web server, so it is
        // bound before Kestrel and before endpoints.json is written (ServerRunner publishes its
        // address as `nbd`), and stopped after Kestrel, before ServerRunner closes the volume store.
        // It serves the export registry, empty at start: exports are added at run time (a running
        // VM's disks). Same certificate as HTTPS; mutual TLS trusts client certificates of the local CA.
        builder.Services.AddSingleton(services => new ExportRegistry(loggerFactory.CreateLogger("Ironclad.Host.Exports")));
        builder.Services.AddSingleton(services => new NbdListener(
            NbdListener.CreateOptions(new IPEndPoint(settings.BindAddress, settings.NbdPort), settings.NbdTls, tls.ServerCertificate, tls.CaCertificate),
            services.GetRequiredService<ExportRegistry>(),
            loggerFactory));
        builder.Services.AddHostedService(services => services.GetRequiredService<NbdListener>());
        // Control-plane metadata (Ironclad.Metadata): DIR/metadata.db, SQLite in WAL mode. Each role
        // below migrates its own tables and registers its services in its own file.
        builder.Services.AddSingleton(_ => Ironclad.Metadata.MetadataDatabase.Open(dataDirectory.MetadataDatabase));
        // Identity (Ironclad.Identity): see IdentityRole.cs.
        IdentityRole.AddServices(builder.Services, settings, dataDirectory, tls);
        // Resource Manager (Ironclad.ResourceManager): see ResourceManagerRole.cs.
        ResourceManagerRole.AddServices(builder.Services, settings, dataDirectory);
        // Key Vault management plane (Ironclad.ResourceManager/KeyVault): see KeyVaultRole.cs.
        KeyVaultRole.AddServices(builder.Services, settings, dataDirectory);
        // Key Vault audit log and access-change events: see KeyVaultAuditRole.cs.
        KeyVaultAuditRole.AddServices(builder.Services, settings, dataDirectory);
        // Key Vault keys data plane (Ironclad.KeyVault + ControlPlane/KeyVault): see KeyVaultDataPlaneRole.cs.
        KeyVaultDataPlaneRole.AddServices(builder.Services, settings, dataDirectory);
        // Microsoft.ManagedIdentity/userAssignedIdentities: see ManagedIdentityRole.cs.
        ManagedIdentityRole.AddServices(builder.Services);
        // Microsoft.Compute (Ironclad.Compute + ControlPlane/Compute): see ComputeRole.cs.
        ComputeRole.AddServices(builder.Services, settings, dataDirectory);
        // ─────────────────────────────────────────────────────────────────────────────────────

        var app = builder.Build();
        app.UseControlPlane();
        app.MapControlPlane();
        return app;
    }
}
